"""tracing.py: X-Amzn-Trace-Id headers, the X-Ray daemon's packets and collector, and timelines."""

from __future__ import annotations

import json
import re

from careforall_local.gateway import invoke_trace_header
from careforall_local.tracing import (TraceCollector, TraceHeader, build_spans, new_root, new_segment_id,
                                      parse_daemon_packet, parse_trace_header, upstream_or_new)

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
OTHER_ROOT = "1-5759e988-000000000000000000000001"


def packet(document: dict) -> bytes:
    """What the X-Ray SDK sends to the daemon: a JSON header line, then the document."""
    return b'{"format":"json","version":1}\n' + json.dumps(document).encode()


def segment(segment_id: str, trace_id: str = ROOT, start: float = 100.0, end: float = 100.5, **extra) -> dict:
    return {"id": segment_id, "trace_id": trace_id, "name": segment_id, "start_time": start, "end_time": end, **extra}


# ---------------------------------------------------------------------- headers
def test_parse_trace_header_with_root_parent_sampled_returns_all_three():
    header = parse_trace_header(f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")

    assert header == TraceHeader(ROOT, "53995c3f42cd8ad8", "1")


def test_parse_trace_header_with_root_only_has_no_parent_and_no_sampling_decision():
    assert parse_trace_header(f"Root={ROOT}") == TraceHeader(ROOT, None, None)


def test_parse_trace_header_in_any_order_and_spacing_finds_fields():
    assert parse_trace_header(f"Sampled=0; Parent=53995c3f42cd8ad8; Root={ROOT}") == TraceHeader(
        ROOT, "53995c3f42cd8ad8", "0")


def test_parse_trace_header_without_valid_root_returns_none():
    for value in (None, "", "Parent=53995c3f42cd8ad8;Sampled=1", "Root=2-abc;Sampled=1", "garbage"):
        assert parse_trace_header(value) is None, value


def test_new_root_has_epoch_seconds_and_24_random_hex_digits():
    root = new_root(now=0x5759E988)

    assert re.fullmatch(r"1-5759e988-[0-9a-f]{24}", root)
    assert new_root() != new_root()


def test_new_segment_id_is_16_hex_digits():
    assert re.fullmatch(r"[0-9a-f]{16}", new_segment_id())


def test_trace_header_child_names_new_parent_and_keeps_root_sampled():
    child = TraceHeader(ROOT, "53995c3f42cd8ad8", None).child("0000000000000abc")

    assert str(child) == f"Root={ROOT};Parent=0000000000000abc;Sampled=1"


def test_upstream_or_new_without_header_starts_sampled_trace_with_well_formed_root():
    header = upstream_or_new(None)

    assert parse_trace_header(str(header)).root == header.root
    assert header.parent is None and header.sampled == "1"


def test_invoke_trace_header_prefers_request_header_over_payload_field():
    header = f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"

    assert invoke_trace_header(header, {"trace_header": f"Root={OTHER_ROOT}"}) == header


def test_invoke_trace_header_without_request_header_uses_payload_trace_header_field():
    assert invoke_trace_header(None, {"trace_header": f"Root={ROOT};Sampled=1"}) == f"Root={ROOT};Sampled=1"
    assert invoke_trace_header(None, {"trace_header": 7}) is None
    assert invoke_trace_header(None, ["not", "an", "object"]) is None


# ---------------------------------------------------------------------- collector
def test_ingest_daemon_packet_stores_segment_under_its_trace_id():
    collector = TraceCollector()
    document = segment("aaaaaaaaaaaaaaaa", type="subsegment", parent_id="bbbbbbbbbbbbbbbb")

    assert collector.ingest_packet(packet(document))

    assert collector.trace(ROOT) == [document]


def test_ingest_packet_indexes_annotations_of_nested_subsegments():
    collector = TraceCollector()
    nested = segment("aaaaaaaaaaaaaaaa", subsegments=[
        segment("bbbbbbbbbbbbbbbb", annotations={"pledge_id": "p-1", "ColdStart": True}, subsegments=[
            segment("cccccccccccccccc", annotations={"payment_id": "pay-1", "correlation_id": "corr-1"})])])

    collector.ingest_packet(packet(nested))

    assert collector.lookup("p-1") == collector.lookup("pay-1") == collector.lookup("corr-1") == [ROOT]
    assert collector.lookup("True") == []  # only correlation_id, pledge_id and payment_id are indexed


def test_ingest_garbage_packets_stores_nothing_and_counts_them():
    collector = TraceCollector()
    garbage = [b"", b"not json at all", b'{"format":"json","version":1}', b'{"format":"json","version":1}\n{oops',
               b'{"format":"json","version":1}\n[1, 2]', b'{"format":"json","version":1}\n{"id": "x"}',
               b'{"format":"text"}\n{"id": "x", "trace_id": "t"}', b"\xff\xfe\n\xff"]

    accepted = [collector.ingest_packet(data) for data in garbage]

    assert accepted == [False] * len(garbage)
    assert len(collector) == 0 and collector.rejected == len(garbage)


def test_parse_daemon_packet_returns_document_of_valid_packet():
    assert parse_daemon_packet(packet(segment("aaaaaaaaaaaaaaaa")))["id"] == "aaaaaaaaaaaaaaaa"


def test_record_past_max_documents_forgets_oldest_traces_and_their_index():
    collector = TraceCollector(max_documents=3)
    roots = [f"1-5759e988-{i:024x}" for i in range(5)]
    for i, root in enumerate(roots):
        collector.record(segment(f"{i:016x}", trace_id=root, annotations={"pledge_id": f"p-{i}"}))

    assert len(collector) == 3
    assert collector.trace(roots[0]) == [] and collector.lookup("p-0") == []
    assert collector.lookup("p-4") == [roots[4]]


def test_record_past_max_per_trace_drops_new_documents_of_that_trace():
    collector = TraceCollector(max_per_trace=2)
    for i in range(4):
        collector.record(segment(f"{i:016x}"))

    assert len(collector.trace(ROOT)) == 2 and collector.dropped == 2


def test_recent_pledges_lists_newest_first_pledge_once():
    collector = TraceCollector()
    collector.record(segment("0000000000000001", annotations={"pledge_id": "older"}))
    collector.record(segment("0000000000000002", trace_id=OTHER_ROOT, annotations={"pledge_id": "newer"}))
    collector.record(segment("0000000000000003", annotations={"pledge_id": "older"}))  # seen again: not newer

    assert [pledge for pledge, _, _ in collector.recent_pledges()] == ["newer", "older"]


# ---------------------------------------------------------------------- timelines
def test_build_spans_flattens_nested_subsegments_keeping_parent_ids():
    documents = [segment("aaaaaaaaaaaaaaaa", start=10.0, end=11.0, subsegments=[
        segment("bbbbbbbbbbbbbbbb", start=10.1, end=10.9, subsegments=[
            segment("cccccccccccccccc", start=10.2, end=10.3)])])]

    spans = build_spans(documents)

    assert [(s["id"], s["parent_id"]) for s in spans] == [
        ("aaaaaaaaaaaaaaaa", None), ("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa"), ("cccccccccccccccc", "bbbbbbbbbbbbbbbb")]


def test_build_spans_sorts_by_start_across_traces_and_computes_offsets_and_durations():
    documents = [segment("0000000000000002", trace_id=OTHER_ROOT, start=12.0, end=12.25),
                 segment("0000000000000001", start=10.0, end=10.5)]

    spans = build_spans(documents)

    assert [s["id"] for s in spans] == ["0000000000000001", "0000000000000002"]
    assert [s["offset_ms"] for s in spans] == [0.0, 2000.0]
    assert [s["duration_ms"] for s in spans] == [500.0, 250.0]


def test_build_spans_marks_errors_and_names_function_from_own_segment_or_parent():
    documents = [
        segment("aaaaaaaaaaaaaaaa", origin="AWS::Lambda::Function", fault=True,
                aws={"function_logical_id": "PledgesFunction"}),
        segment("bbbbbbbbbbbbbbbb", parent_id="aaaaaaaaaaaaaaaa", start=100.1, type="subsegment"),
        segment("cccccccccccccccc", trace_id=OTHER_ROOT, origin="AWS::Lambda::Function",
                name="careforall-PledgeRelayFunction", start=101.0)]
    documents[2]["name"] = "careforall-PledgeRelayFunction"

    spans = {s["id"]: s for s in build_spans(documents, {"careforall-PledgeRelayFunction": "PledgeRelayFunction"})}

    assert spans["aaaaaaaaaaaaaaaa"]["error"] and not spans["bbbbbbbbbbbbbbbb"]["error"]
    assert spans["bbbbbbbbbbbbbbbb"]["function"] == "PledgesFunction"
    assert spans["cccccccccccccccc"]["function"] == "PledgeRelayFunction"


def test_build_spans_with_streamed_and_nested_copy_of_one_subsegment_keeps_one_span():
    copy = segment("bbbbbbbbbbbbbbbb", parent_id="aaaaaaaaaaaaaaaa", type="subsegment")

    spans = build_spans([segment("aaaaaaaaaaaaaaaa", subsegments=[dict(copy)]), copy])

    assert [s["id"] for s in spans].count("bbbbbbbbbbbbbbbb") == 1
