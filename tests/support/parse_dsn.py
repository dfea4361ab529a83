"""Parses a delivery status notification with Python's standard email package
and prints what it found as JSON, for tests/reports_test.cpp to check. With
--bounce it also asks GNU Mailman's bounce detector (flufl.bounce) which
recipients it finds, as a list manager would."""

import email
import email.policy
import json
import sys

path = sys.argv[-1]
with open(path, "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)

found = {
    "content_type": msg.get_content_type(),
    "report_type": msg.get_param("report-type"),
    "subject": str(msg["subject"]),
    "headers": list(msg.keys()),
    "message_id": str(msg["message-id"]),
    "auto_submitted": str(msg["auto-submitted"]),
    "defects": len(msg.defects),
    "parts": [],
    "per_message": {},
    "recipients": [],
    "original_subject": None,
    "original_headers": [],
    "original_body": None,
}
for part in msg.iter_parts():
    found["parts"].append(part.get_content_type())
    found["defects"] += len(part.defects)
    if part.get_content_type() == "message/delivery-status":
        blocks = part.get_payload()
        found["per_message"] = {k: str(v) for k, v in blocks[0].items()}
        for block in blocks[1:]:
            found["recipients"].append({k: str(v) for k, v in block.items()})
    if part.get_content_type() == "message/rfc822":
        original = part.get_payload()[0]
        found["original_subject"] = str(original["subject"])
        found["original_headers"] = list(original.keys())
        found["original_body"] = (
            [p.get_content_type() for p in original.iter_parts()] if original.is_multipart() else original.get_payload())

if "--bounce" in sys.argv:
    from flufl.bounce import all_failures

    # flufl.bounce reads messages of the compat32 policy, as Mailman hands them over.
    with open(path, "rb") as f:
        legacy = email.message_from_binary_file(f)
    temporary, permanent = all_failures(legacy)
    found["bounce_temporary"] = sorted(a.decode() if isinstance(a, bytes) else a for a in temporary)
    found["bounce_permanent"] = sorted(a.decode() if isinstance(a, bytes) else a for a in permanent)
print(json.dumps(found))
