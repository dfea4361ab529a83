"""Parses a delivery status notification with Python's standard email package
and prints what it found as JSON, for tests/reports_test.cpp to check."""

import email
import email.policy
import json
import sys

with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)

found = {
    "content_type": msg.get_content_type(),
    "report_type": msg.get_param("report-type"),
    "subject": str(msg["subject"]),
    "defects": len(msg.defects),
    "parts": [],
    "per_message": {},
    "recipients": [],
    "original_subject": None,
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
        found["original_subject"] = str(part.get_payload()[0]["subject"])
print(json.dumps(found))
