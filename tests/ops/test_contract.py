"""The proto contract: per-language file options, and `buf breaking` wired to the baseline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avatarbridge.v1 import avatar_bridge_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
BUF = Path(sys.executable).parent / "buf"
BASELINE = ROOT / "protos" / "v1.binpb"
PROTO = Path("avatarbridge") / "v1" / "avatar_bridge.proto"


def test_file_options_for_every_language() -> None:
    options = pb.DESCRIPTOR.GetOptions()
    assert options.go_package == (
        "github.com/avatar-bridge/avatar-bridge/clients/go/avatarbridge/v1;avatarbridgev1"
    )
    assert options.java_package == "com.avatarbridge.v1"
    assert options.java_multiple_files is True
    assert options.java_outer_classname == "AvatarBridgeProto"
    assert options.csharp_namespace == "AvatarBridge.V1"
    assert options.objc_class_prefix == "AXX"
    assert options.php_namespace == "AvatarBridge\\V1"
    assert options.ruby_package == "AvatarBridge::V1"


def buf_breaking(module: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), "breaking", str(module), "--against", str(BASELINE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not BUF.exists(), reason=f"no buf at {BUF}")
def test_buf_breaking_accepts_the_tree_and_catches_a_renumbered_field(tmp_path: Path) -> None:
    module = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", module, ignore=shutil.ignore_patterns("*.py", "*.binpb"))
    assert buf_breaking(module).returncode == 0

    source = (module / PROTO).read_text(encoding="utf-8")
    renumbered = source.replace("string request_id = 1;", "string request_id = 99;", 1)
    assert renumbered != source
    (module / PROTO).write_text(renumbered, encoding="utf-8")
    result = buf_breaking(module)
    assert result.returncode != 0
    assert "request_id" in result.stdout + result.stderr


@pytest.mark.skipif(
    not (BUF.exists() and shutil.which("protoc-gen-go") and shutil.which("protoc-gen-go-grpc")),
    reason="needs buf and Debian's protoc-gen-go, protoc-gen-go-grpc (installed by .ci/run)",
)
def test_go_stubs_match_the_proto(tmp_path: Path) -> None:
    subprocess.run([str(BUF), "generate", "-o", str(tmp_path)], cwd=ROOT, check=True, timeout=120)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.go"))
    committed = sorted(
        p.relative_to(ROOT) for p in (ROOT / "clients" / "go" / "avatarbridge").rglob("*.go")
    )
    assert fresh == committed, "run `make protos`"
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes(), f"{rel}: run make protos"
