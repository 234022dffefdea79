"""The benchmark's Markdown table and PNG plot, from the JSON report of benchmarks.run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import describe

_COLUMNS = (
    ("sessions", "sessions", "{:d}"),
    ("chunk_ms", "chunk ms", "{:d}"),
    ("uvloop", "uvloop", "{}"),
    ("generator", "load gen", "{}"),
    ("spread_s", "starts spread s", "{:g}"),
    ("passed", "goals met", "{}"),
    ("latency_p50_ms", "latency p50 ms", "{:.1f}"),
    ("latency_p99_ms", "latency p99 ms", "{:.1f}"),
    ("latency_max_ms", "latency max ms", "{:.0f}"),
    ("steady_p99_ms", "p99 w/o first+last s", "{:.1f}"),
    ("lag_p99_ms", "loop lag p99 ms", "{:.1f}"),
    ("gc_max_ms", "GC pause max ms", "{:.0f}"),
    ("bridge_cpu_pct", "bridge CPU %", "{:.0f}"),
    ("cpu_ms_per_audio_s", "CPU ms / audio s", "{:.2f}"),
    ("load_cpu_pct", "load gen CPU %", "{:.0f}"),
    ("errors", "errors", "{:d}"),
    ("idle_kb_per_session", "idle KB/session", "{:.0f}"),
    ("streaming_kb_per_session", "streaming KB/session", "{:.0f}"),
    ("rss_after_mb", "RSS after MB", "{:.0f}"),
)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Bridge benchmark",
        "",
        f"{describe(report['machine'], 'python', 'grpcio', 'websockets')} Bridge pinned to "
        "core 0, load generator and LITE sink on core 1.",
        "",
    ]
    cpu = report.get("cpu")
    if cpu:
        lines += [
            "## CPU per bridged audio-second (100 ms chunks, same run)",
            "",
            "Direct clients: a LiveAvatar WebSocket client doing the bridge's job without it, "
            "with the anchors' packets (600 ms, then 1 s) and with each 100 ms chunk as its own "
            "packet (what the bridge sends for a real-time client). Goal: ratio <= 1.5.",
            "",
            "| sessions | bridge ms | bridge CPU % | direct, anchors' packets ms | ratio "
            "| direct, 100 ms packets ms | ratio | load average |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in cpu:
            lines.append(
                f"| {row['sessions']} | {row['bridge_ms_per_audio_s']:.2f} "
                f"| {row.get('bridge_cpu_pct', 0):.0f} "
                f"| {row['baseline_ms_per_audio_s']:.2f} | **{row['ratio']:.2f}x** "
                f"| {row['baseline_100ms_packets_ms_per_audio_s']:.2f} "
                f"| **{row['ratio_100ms_packets']:.2f}x** "
                f"| {', '.join(f'{x:.2f}' for x in row['load_average'])} |"
            )
        lines.append("")
    floor = report.get("floor")
    if floor:
        lines += [
            "## The floor under the ratio (benchmarks/floor.py, same run)",
            "",
            "grpc.aio serving `Converse` with no bridge behind it, under the bridge's own server "
            "options: `recv` only receives the clients' chunks; `relay` also forwards each one "
            "as an `agent.speak` frame (template framing, the bridge's frame writer), with no "
            "pacing, events or bookkeeping. Ratios against the direct client with the anchors' "
            "packets above.",
            "",
            "| sessions | direct ms | gRPC receive alone ms | ratio | bare relay ms | ratio "
            "| load average |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in floor:
            lines.append(
                f"| {row['sessions']} | {row['baseline_ms_per_audio_s']:.2f} "
                f"| {row['recv_ms_per_audio_s']:.2f} | {row['recv_ratio']:.2f}x "
                f"| {row['relay_ms_per_audio_s']:.2f} | {row['relay_ratio']:.2f}x "
                f"| {', '.join(f'{x:.2f}' for x in row['load_average'])} |"
            )
        lines.append("")
    lines += ["## Capacity steps (one fresh bridge per row)", ""]
    lines.append("| " + " | ".join(title for _, title, _ in _COLUMNS) + " |")
    lines.append("|" + "---|" * len(_COLUMNS))
    for step in report["steps"]:
        cells = []
        for key, _, fmt in _COLUMNS:
            value = step.get(key, "")
            cells.append(fmt.format(value) if value not in ("", None) else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Latency: a packet's arrival at the sink minus the send time of the last client chunk it "
        'carries. Goals: p99 < 20 ms, loop lag p99 < 10 ms, 0 errors. "p99 w/o first+last s" '
        "(Go generator): the same without the first and the last second, where every session "
        "starts and ends its utterance within one chunk period of the others.",
        "",
    ]
    speech = report.get("first_speech")
    if speech:
        lines += [
            "## Time to first speech (emulator, 3 s utterances, 20 ms chunks)",
            "",
            "| sender | source speed | jitter ms | first speech ms (median) | starvations (total) "
            "| runs |",
            "|---|---|---|---|---|---|",
        ]
        for row in speech:
            lines.append(
                f"| {row['sender']} | {row['speed']}x | {row.get('jitter_ms', 0)} | "
                f"{row['first_speech_ms']:.0f} | "
                f"{row['starvations']} | {row['runs']} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(11, 4))
    for chunk_ms in sorted({s["chunk_ms"] for s in report["steps"]}):
        rows = sorted(
            (s for s in report["steps"] if s["chunk_ms"] == chunk_ms and not s["uvloop"]),
            key=lambda s: s["sessions"],
        )
        x = [s["sessions"] for s in rows]
        lat.plot(x, [s["latency_p99_ms"] for s in rows], "o-", label=f"{chunk_ms} ms p99")
        lat.plot(x, [s["lag_p99_ms"] for s in rows], "x--", label=f"{chunk_ms} ms loop lag p99")
        cpu.plot(x, [s["bridge_cpu_pct"] for s in rows], "o-", label=f"{chunk_ms} ms chunks")
    lat.axhline(20, color="grey", linewidth=0.8)
    lat.set(xlabel="sessions on one core", ylabel="ms", yscale="log", title="added latency")
    cpu.set(xlabel="sessions on one core", ylabel="% of one core", title="bridge CPU")
    lat.legend(fontsize=8)
    cpu.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
