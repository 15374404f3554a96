"""Observed values from lists, CSV, JSON lines, Suricata eve.json and Zeek logs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from thiqa.correlate.inputs import read_values, sniff
from thiqa.errors import BadRequest


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_plain_and_gzip(tmp_path: Path) -> None:
    p = write(tmp_path, "v.txt.gz", "# comment\n1.2.3.4\n\n  evil.com \n")
    assert sniff(p) == "plain" and list(read_values(p)) == ["1.2.3.4", "evil.com"]


def test_csv_uses_the_value_column(tmp_path: Path) -> None:
    p = write(tmp_path, "v.csv", "time,indicator,note\n1,1.2.3.4,x\n2,evil.com,y\n")
    assert list(read_values(p)) == ["1.2.3.4", "evil.com"]
    q = write(tmp_path, "w.csv", "1.2.3.4,evil.com\n5.6.7.8,\n")
    assert list(read_values(q)) == ["1.2.3.4", "evil.com", "5.6.7.8"]


def test_eve(tmp_path: Path) -> None:
    events = [
        {"event_type": "dns", "src_ip": "10.0.0.2", "dest_ip": "8.8.8.8",
         "dns": {"rrname": "evil.com", "answers": [{"rdata": "6.6.6.6"}]}},
        {"event_type": "http", "src_ip": "10.0.0.2", "dest_ip": "6.6.6.6",
         "http": {"hostname": "evil.com", "url": "/gate.php", "http_port": 8080}},
        {"event_type": "tls", "src_ip": "10.0.0.2", "dest_ip": "6.6.6.6",
         "tls": {"sni": "c2.evil.com", "fingerprint": "aa:bb"}},
        {"event_type": "fileinfo", "fileinfo": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}},
    ]
    p = write(tmp_path, "eve.json", "\n".join(json.dumps(e) for e in events))
    assert sniff(p) == "jsonl"
    assert list(read_values(p, "eve")) == [
        "10.0.0.2", "8.8.8.8", "evil.com", "6.6.6.6", "10.0.0.2", "6.6.6.6", "evil.com",
        "http://evil.com:8080/gate.php", "10.0.0.2", "6.6.6.6", "c2.evil.com", "aa:bb",
        "d41d8cd98f00b204e9800998ecf8427e"]


def test_zeek_tsv(tmp_path: Path) -> None:
    log = ("#separator \\x09\n#path\thttp\n"
           "#fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\thost\turi\n"
           "#types\ttime\taddr\taddr\tport\tstring\tstring\n"
           "1.0\t10.0.0.2\t6.6.6.6\t80\tevil.com\t/gate.php\n"
           "2.0\t10.0.0.2\t7.7.7.7\t80\t-\t-\n")
    p = write(tmp_path, "http.log", log)
    assert sniff(p) == "zeek"
    assert list(read_values(p)) == ["10.0.0.2", "6.6.6.6", "evil.com",
                                    "http://evil.com/gate.php", "10.0.0.2", "7.7.7.7"]
    dns = ("#separator \\x09\n#fields\tquery\tanswers\n"
           "evil.com\t6.6.6.6,7.7.7.7\n")
    assert list(read_values(write(tmp_path, "dns.log", dns))) == ["evil.com", "6.6.6.6",
                                                                   "7.7.7.7"]


def test_jsonl_records(tmp_path: Path) -> None:
    p = write(tmp_path, "v.jsonl", '"1.2.3.4"\n{"value": "evil.com"}\n{"query": "x.org"}\n')
    assert list(read_values(p)) == ["1.2.3.4", "evil.com", "x.org"]
    bad = write(tmp_path, "bad.jsonl", '"ok"\n{nope\n')
    with pytest.raises(BadRequest, match="line 2"):
        list(read_values(bad))
