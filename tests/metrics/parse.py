"""Parses a metrics page with python3-prometheus-client's own parsers (the
Prometheus text format's, or the stricter OpenMetrics one) and prints every
sample as `name|label=value,...|value`, labels sorted, one per line.
Usage: parse.py <file> prometheus|openmetrics"""
import sys

path, fmt = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
if fmt == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(text))
for family in families:
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}|{labels}|{float(s.value):g}|{family.type}")
