"""Starts the metrics server example, fetches its page over HTTP in both
formats (as Prometheus would: the OpenMetrics one through the Accept header),
and parses each with python3-prometheus-client's parser for that format.
Usage: scrape.py <spool_example_metrics_server> <database>"""
import os
import subprocess
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as prometheus_families

server, database = sys.argv[1], sys.argv[2]
for leftover in (database, database + "-wal", database + "-shm", database + "-spooler"):
    if os.path.exists(leftover):
        os.remove(leftover)  # a fresh spool each run
proc = subprocess.Popen([server, database, "0", "--requests", "2"], stdout=subprocess.PIPE, text=True)
try:
    url = proc.stdout.readline().split()[-1]
    assert url.startswith("http://127.0.0.1:"), url

    def fetch(accept):
        request = urllib.request.Request(url, headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers["Content-Type"], response.read().decode()

    def samples(families):
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}

    # The three submits are done before the example prints its address; what the
    # spooler's thread has sent by now varies, so only the submits are counted exactly.
    ctype, text = fetch("application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5")
    om = samples(openmetrics_families(text))
    assert ctype.startswith("application/openmetrics-text"), ctype
    assert om[("spool_messages_submitted_total", ())] == 3, om
    queued = sum(om[("spool_queue_messages", (("state", s),))] for s in ("due", "deferred", "held", "in_hand"))
    assert 1 <= queued <= 3, om  # carol@example.net's message waits

    ctype, text = fetch("text/plain")
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    prom = samples(prometheus_families(text))
    assert prom[("spool_messages_submitted_total", ())] == 3, prom
    print("scraped", len(om), "OpenMetrics samples and", len(prom), "Prometheus samples")
finally:
    if proc.wait(timeout=30) != 0:
        sys.exit("the example exited with " + str(proc.returncode))
