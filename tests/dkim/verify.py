"""Verifies every DKIM-Signature of a message with dkimpy (Debian's
python3-dkim; Ed25519 through python3-nacl), with the public keys taken from a
JSON file of DNS names and TXT records instead of DNS. Prints one line per
signature, in the message's order: "pass" or "fail"."""

import json
import sys

import dkim

message_path, records_path = sys.argv[1], sys.argv[2]
with open(message_path, "rb") as f:
    message = f.read()
with open(records_path, encoding="utf-8") as f:
    records = {name.encode(): record.encode() for name, record in json.load(f).items()}


def dnsfunc(name, timeout=5):
    return records.get(name.rstrip(b"."), b"")


signatures = sum(1 for line in message.split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
if signatures == 0:
    print("no signature")
    sys.exit(1)
checker = dkim.DKIM(message)
for index in range(signatures):
    try:
        print("pass" if checker.verify(idx=index, dnsfunc=dnsfunc) else "fail")
    except dkim.DKIMException as e:  # a signature it cannot even check fails too
        print("fail")
        print(f"signature {index}: {e}", file=sys.stderr)
