#!/usr/bin/env python3
"""Makes the fixtures for the Swift torch checkpoint reader (Tests/IOTests/).

Valid checkpoints are written by torch.save itself; for each, `<name>.expected.safetensors` holds the
same tensors as torch.load returns them (made contiguous), which the Swift tests compare value for
value. Hostile files are crafted byte by byte and listed in hostile/hostile.json with a fragment of
the error the reader must give. Crafted pickles are never unpickled here: only pickletools-free byte
assembly, and torch.load(weights_only=True) on the *valid* files as a cross-check.

Also writes norbert3-tiny.expected.json: per tensor of ../shared/reference/norbert3-tiny/model/
pytorch_model.bin its dtype, shape and FNV-1a 64 of its contiguous little-endian bytes (as torch.load
gives them), so the Swift test checks every tensor, including the int64 position_indices buffers that
reference.safetensors does not carry.

Usage: python3 tools/make_torch_fixtures.py   (from the package root; needs torch, safetensors)
"""
import collections
import io
import json
import os
import struct
import sys
import zipfile
import zlib

import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "torch")
HOSTILE = os.path.join(OUT, "hostile")
SHARED_NORBERT = os.path.join(ROOT, "..", "shared", "reference", "norbert3-tiny", "model", "pytorch_model.bin")


def flatten(obj, prefix=""):
    """Dotted names for the tensors of nested dicts/lists/tuples, in order (as the Swift reader names them)."""
    out = []
    join = (lambda k: f"{prefix}.{k}" if prefix else str(k))
    if isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += flatten(v, join(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flatten(v, join(i))
    return out


def save_with_expected(name, obj, **kwargs):
    path = os.path.join(OUT, name + ".pt")
    torch.save(obj, path, **kwargs)
    # torch's weights_only unpickler lacks FRAME (protocol 4+); these files were just written here.
    write_expected(name, path, weights_only=kwargs.get("pickle_protocol", 2) < 4)
    return path


def write_expected(name, path, weights_only=True):
    loaded = torch.load(path, weights_only=weights_only)
    tensors = collections.OrderedDict((k, v.detach().contiguous().clone()) for k, v in flatten(loaded))
    save_file(tensors, os.path.join(OUT, name + ".expected.safetensors"),
              metadata={"names": json.dumps(list(tensors.keys()))})


def valid_fixtures():
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)
    dtypes = collections.OrderedDict()
    dtypes["f32"] = r(3, 4)
    dtypes["f16"] = r(5).half()
    dtypes["bf16"] = r(2, 3).bfloat16()
    dtypes["f64"] = r(4).double()
    dtypes["i64"] = torch.tensor([[0, -1, 2**40], [-(2**62), 7, 9]], dtype=torch.int64)
    dtypes["i32"] = torch.tensor([-5, 0, 2**31 - 1], dtype=torch.int32)
    dtypes["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    dtypes["i8"] = torch.tensor([-128, -1, 0, 127], dtype=torch.int8)
    dtypes["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    dtypes["bool"] = torch.tensor([True, False, False, True])
    dtypes["scalar"] = torch.tensor(3.25)
    dtypes["empty"] = torch.zeros(0, 3)
    dtypes_path = save_with_expected("dtypes", dtypes)

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    half = r(3, 5).half()
    longs = torch.arange(12, dtype=torch.int64).reshape(3, 4)
    views = collections.OrderedDict()
    views["base"] = base
    views["transposed"] = base.t()                      # strides (1, 6), shares base's storage
    views["slice"] = base[1:3, ::2]                     # offset 6, strides (6, 2)
    views["row"] = base[2]                              # offset 12
    views["expanded"] = torch.arange(3.0).expand(2, 3)  # stride 0
    views["permuted"] = torch.arange(60.0).reshape(3, 4, 5).permute(2, 0, 1)
    views["half_t"] = half.t()
    views["long_t"] = longs.t()
    views["long_col"] = longs[:, 1]
    save_with_expected("views", views)

    tagged = r(2)
    tagged.note = "x"  # a tensor with Python attributes pickles through _rebuild_from_type_v2
    tagged_param = torch.nn.Parameter(r(2))
    tagged_param.tag = 3  # and a Parameter with them through _rebuild_parameter_with_state
    nested = {
        "model": collections.OrderedDict([("encoder.weight", r(2, 3)), ("encoder.bias", r(2))]),
        "epoch": 3,
        "lr": 0.5,
        "name": "run",
        "flags": [True, None, -7, 2**40],
        "tensors": [r(2), r(1, 2)],
        "param": torch.nn.Parameter(r(2, 2)),
        "pair": (r(3), 4),
        7: r(1),
        "tagged": tagged,
        "tagged_param": tagged_param,
    }
    save_with_expected("nested", nested)

    # Protocols 4 and 5 bring FRAME, MEMOIZE, SHORT_BINUNICODE and STACK_GLOBAL.
    save_with_expected("protocol4", views, pickle_protocol=4)
    save_with_expected("protocol5", dtypes, pickle_protocol=5)

    # The same members deflated (torch writes stored members, other zip tools may not).
    rezip(dtypes_path, os.path.join(OUT, "deflated.pt"), compression=zipfile.ZIP_DEFLATED)
    write_expected("deflated", os.path.join(OUT, "deflated.pt"))

    # ZIP64 everywhere (EOCD record + locator, extra fields), as a >4 GiB checkpoint has, but small.
    with zipfile.ZipFile(dtypes_path) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    zip64_path = os.path.join(OUT, "zip64.pt")
    with open(zip64_path, "wb") as f:
        f.write(build_zip(members, zip64=True))
    with zipfile.ZipFile(zip64_path) as z:  # an independent reader agrees with the hand-built layout
        assert [i.filename for i in z.infolist()] == [m[0] for m in members]
        assert z.testzip() is None
    write_expected("zip64", zip64_path)

    # A sharded checkpoint with its index, as save_pretrained writes big models.
    shard_dir = os.path.join(OUT, "sharded")
    os.makedirs(shard_dir, exist_ok=True)
    a = collections.OrderedDict([("layer.0.weight", r(2, 2)), ("layer.0.bias", r(2))])
    b = collections.OrderedDict([("layer.1.weight", r(2, 2)), ("head.ids", torch.arange(4))])
    torch.save(a, os.path.join(shard_dir, "pytorch_model-00001-of-00002.bin"))
    torch.save(b, os.path.join(shard_dir, "pytorch_model-00002-of-00002.bin"))
    weight_map = {k: "pytorch_model-00001-of-00002.bin" for k in a}
    weight_map.update({k: "pytorch_model-00002-of-00002.bin" for k in b})
    with open(os.path.join(shard_dir, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    all_tensors = collections.OrderedDict(list(a.items()) + list(b.items()))
    save_file(all_tensors, os.path.join(OUT, "sharded.expected.safetensors"))
    return dtypes_path


def fixed_time(name):
    """A member entry with a fixed timestamp, so regenerated fixtures differ only where torch's do."""
    return zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))


def rezip(src, dst, compression=zipfile.ZIP_STORED, drop=(), replace=None):
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, zin.read(info.filename))
            zout.writestr(fixed_time(info.filename), data, compress_type=compression)


def build_zip(members, zip64=False, deflate=False):
    """A minimal ZIP writer: STORED (or raw DEFLATE) members; with zip64, every size and offset goes
    through ZIP64 extra fields and the ZIP64 end-of-central-directory record plus locator."""
    out = io.BytesIO()
    central = []
    for name, data in members:
        nb = name.encode()
        crc = zlib.crc32(data)
        if deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
            method = 8
        else:
            payload, method = data, 0
        offset = out.tell()
        if zip64:
            local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(payload))
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0, crc,
                                  0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(local_extra)))
            out.write(nb + local_extra)
        else:
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc,
                                  len(payload), len(data), len(nb), 0))
            out.write(nb)
        out.write(payload)
        central.append((nb, method, crc, len(payload), len(data), offset))
    cd_start = out.tell()
    for nb, method, crc, csize, usize, offset in central:
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset)
            out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0, crc,
                                  0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF))
            out.write(nb + extra)
        else:
            out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc,
                                  csize, usize, len(nb), 0, 0, 0, 0, 0, offset))
            out.write(nb)
    cd_size = out.tell() - cd_start
    n = len(central)
    if zip64:
        rec = out.tell()
        out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_start))
        out.write(struct.pack("<IIQI", 0x07064B50, 0, rec, 1))
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    else:
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0))
    return out.getvalue()


# --- crafted pickles (assembled from opcodes; never unpickled) ---

def op_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return b"X" + struct.pack("<I", len(b)) + b


def op_int(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def op_tuple(items):
    return b"(" + b"".join(items) + b"t"


def tensor_ops(key, numel, offset, size, stride, storage="FloatStorage"):
    pid = op_tuple([op_str("storage"), b"ctorch\n" + storage.encode() + b"\n", op_str(key), op_str("cpu"), op_int(numel)])
    return (b"ctorch._utils\n_rebuild_tensor_v2\n"
            + op_tuple([pid + b"Q", op_int(offset), op_tuple([op_int(n) for n in size]),
                        op_tuple([op_int(s) for s in stride]), b"\x89",
                        b"ccollections\nOrderedDict\n)R"])
            + b"R")


def state_dict_pickle(entries):
    """OrderedDict of name → raw value opcodes, protocol 2 as torch writes it."""
    body = b"".join(op_str(k) + v for k, v in entries)
    return b"\x80\x02ccollections\nOrderedDict\n)R(" + body + b"u."


def torch_zip(pickle_bytes, storages=(), byteorder=b"little", deflate_pickle=False, prefix="archive"):
    members = [(f"{prefix}/data.pkl", pickle_bytes), (f"{prefix}/byteorder", byteorder)]
    members += [(f"{prefix}/data/{k}", v) for k, v in storages]
    members.append((f"{prefix}/version", b"3\n"))
    if deflate_pickle:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, data in members:
                z.writestr(fixed_time(name), data, compress_type=zipfile.ZIP_DEFLATED if name.endswith(".pkl") else zipfile.ZIP_STORED)
        return out.getvalue()
    return build_zip(members)


FOUR_FLOATS = struct.pack("<4f", 1, 2, 3, 4)


def hostile_fixtures(dtypes_path):
    os.makedirs(HOSTILE, exist_ok=True)
    cases = []

    def add(name, data, expect, when="open", why=""):
        with open(os.path.join(HOSTILE, name), "wb") as f:
            f.write(data)
        cases.append({"file": name, "expect": expect, "when": when, "why": why})

    good = tensor_ops("0", 4, 0, [4], [1])
    add("os_system.pt", torch_zip(b"\x80\x02cos\nsystem\n" + op_str("echo pwned") + b"\x85R."),
        "refuses global 'os.system'", why="the classic code-running pickle")
    add("builtins_eval.pt", torch_zip(b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94"
                                      b"\x8c\x0bprint('hi')\x85R."),
        "refuses global 'builtins.eval'", why="STACK_GLOBAL route (protocol 4)")
    add("subprocess_after_tensor.pt",
        torch_zip(state_dict_pickle([("w", good), ("x", b"csubprocess\nPopen\n" + op_str("ls") + b"\x85R")]),
                  [("0", FOUR_FLOATS)]),
        "refuses global 'subprocess.Popen'", why="a bad global after a valid tensor")
    add("complex_storage.pt",
        torch_zip(state_dict_pickle([("w", tensor_ops("0", 2, 0, [2], [1], storage="ComplexFloatStorage"))]),
                  [("0", FOUR_FLOATS)]),
        "refuses global 'torch.ComplexFloatStorage'", why="storage types we cannot read")

    module_path = os.path.join(HOSTILE, "whole_module.pt")
    torch.save(torch.nn.Linear(2, 2), module_path)
    cases.append({"file": "whole_module.pt", "expect": "refuses global 'torch.nn.modules.linear.Linear'",
                  "when": "open", "why": "torch.save(model) pickles classes"})

    script_path = os.path.join(HOSTILE, "torchscript.pt")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), script_path)
    cases.append({"file": "torchscript.pt", "expect": "TorchScript", "when": "open", "why": "torch.jit.save"})

    legacy_path = os.path.join(HOSTILE, "legacy.pt")
    torch.save({"w": torch.ones(2)}, legacy_path, _use_new_zipfile_serialization=False)
    cases.append({"file": "legacy.pt", "expect": "legacy (pre-1.6", "when": "open", "why": "old format"})

    with open(dtypes_path, "rb") as f:
        real = f.read()
    add("truncated.pt", real[: len(real) // 2], "truncated", why="cut in half: no end of central directory")
    add("not_zip.pt", b"this is not a checkpoint at all, just text\n" * 3, "not a ZIP archive")
    add("empty.pt", b"", "not a ZIP archive")

    eocd = real.rindex(b"PK\x05\x06")
    lying = bytearray(real)
    struct.pack_into("<I", lying, eocd + 16, 0x7FFFFFF0)
    assert real[eocd - 20:eocd - 16] == b"PK\x06\x07", "torch writes a ZIP64 locator"
    zip64_record = struct.unpack_from("<Q", real, eocd - 20 + 8)[0]
    struct.pack_into("<Q", lying, zip64_record + 48, 0x7FFFFFF0)
    add("lying_cd_offset.pt", bytes(lying), "lies outside", why="central directory offset beyond the file (ZIP64 record)")
    small = bytearray(build_zip([("archive/data.pkl", b"\x80\x02}.")]))
    struct.pack_into("<I", small, len(small) - 22 + 16, 0x7FFFFFF0)
    add("lying_cd_offset32.pt", bytes(small), "lies outside", why="central directory offset beyond the file (plain EOCD)")
    locator = bytearray(real)
    struct.pack_into("<Q", locator, eocd - 20 + 8, len(real) + 100)
    add("lying_zip64_locator.pt", bytes(locator), "no ZIP64 end-of-central-directory record")

    # A member whose sizes claim more bytes than the file has.
    with zipfile.ZipFile(dtypes_path) as z:
        info = z.getinfo(next(n for n in z.namelist() if n.endswith("/data/0")))
        cd_offset = struct.unpack_from("<I", real, eocd + 16)[0]
    pos = cd_offset
    while True:
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", real, pos + 28)
        if real[pos + 46:pos + 46 + name_len].decode() == info.filename:
            break
        pos += 46 + name_len + extra_len + comment_len
    lying = bytearray(real)
    struct.pack_into("<II", lying, pos + 20, 0x7FFFFFF0, 0x7FFFFFF0)
    add("lying_member_size.pt", bytes(lying), "runs past the end", why="member sizes beyond the file")
    lying = bytearray(real)
    struct.pack_into("<H", lying, pos + 8, 1)
    add("encrypted_flag.pt", bytes(lying), "encrypted")

    # The local header's extra field (torch's alignment padding) is not in the central directory copy.
    lh = info.header_offset
    n_len, e_len = struct.unpack_from("<HH", real, lh + 26)
    data_start = lh + 30 + n_len + e_len
    corrupt = bytearray(real)
    corrupt[data_start + 5] ^= 0xFF
    add("crc_corrupt.pt", bytes(corrupt), "CRC-32", when="read", why="a flipped byte in a storage")

    dropped = os.path.join(HOSTILE, "missing_storage.pt")
    rezip(dtypes_path, dropped, drop=(info.filename,))
    cases.append({"file": "missing_storage.pt", "expect": "missing from the archive", "when": "open",
                  "why": "a storage key with no member"})

    add("view_out_of_range.pt",
        torch_zip(state_dict_pickle([("w", tensor_ops("0", 4, 0, [10], [1]))]), [("0", FOUR_FLOATS)]),
        "reaches past its storage", why="size 10 over 4 elements")
    add("view_offset_out_of_range.pt",
        torch_zip(state_dict_pickle([("w", tensor_ops("0", 4, 3, [2, 2], [2, 1]))]), [("0", FOUR_FLOATS)]),
        "reaches past its storage", why="offset 3 + (1*2 + 1*1) = 6 > 3")
    add("storage_size_lie.pt",
        torch_zip(state_dict_pickle([("w", tensor_ops("0", 100, 0, [4], [1]))]), [("0", FOUR_FLOATS)]),
        "should hold 100", why="numel 100 but 16 bytes")
    add("huge_expand.pt",
        torch_zip(state_dict_pickle([("w", tensor_ops("0", 4, 0, [65536, 65536], [0, 0]))]), [("0", FOUR_FLOATS)]),
        "too many repeats", why="stride-0 view of 4G elements")
    add("negative_stride.pt",
        torch_zip(state_dict_pickle([("w", tensor_ops("0", 4, 3, [4], [-1]))]), [("0", FOUR_FLOATS)]),
        "non-integer or negative", why="torch never writes negative strides")
    add("big_endian.pt",
        torch_zip(state_dict_pickle([("w", good)]), [("0", FOUR_FLOATS)], byteorder=b"big"),
        "its byteorder is 'big', not 'little'")
    add("not_a_dict.pt", torch_zip(b"\x80\x02(" + good + b"l.", [("0", FOUR_FLOATS)]),
        "not a state dict", why="a list of tensors")
    add("deep_nesting.pt", torch_zip(b"\x80\x02N" + b"\x85" * 200_000 + b".", deflate_pickle=True),
        "nest deeper", why="200,000 nested tuples (deflated in the archive)")
    add("huge_memo.pt", torch_zip(b"\x80\x04N" + b"\x94" * 4_500_000 + b".", deflate_pickle=True),
        "memo grows beyond", why="4.5M memo entries")
    add("huge_stack.pt", torch_zip(b"\x80\x02" + b"N" * 1_100_000 + b".", deflate_pickle=True),
        "stack grows beyond", why="1.1M stack items")
    add("pop_mark_underflow.pt", torch_zip(b"\x80\x02N(0t."), "no MARK to pop to",
        why="POP with nothing above a MARK pops the MARK (as in Python)")
    add("memo_missing.pt", torch_zip(b"\x80\x02h\x05."), "memo entry 5 was never stored")
    add("self_append.pt", torch_zip(b"\x80\x02]q\x00h\x00a."), "changes a container after nesting",
        why="a list appended to itself (a cycle)")
    add("truncated_pickle.pt", torch_zip(state_dict_pickle([("w", good)])[:60], [("0", FOUR_FLOATS)]),
        "truncated")
    add("huge_string_length.pt", torch_zip(b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc."),
        "needs 4611686018427387904 bytes")
    add("bad_utf8.pt", torch_zip(b"\x80\x02X\x02\x00\x00\x00\xc3\x28."), "not valid UTF-8")
    add("huge_long.pt", torch_zip(b"\x80\x02\x8a\x14" + b"\x01" * 20 + b"."), "too large")
    add("ext_opcode.pt", torch_zip(b"\x80\x02\x82\x01."), "opcode 0x82 is not supported")
    add("protocol_6.pt", torch_zip(b"\x80\x06N."), "pickle protocol 6")
    add("dict_key_tuple.pt", torch_zip(b"\x80\x02}(N\x85K\x01u."), "dict key of type tuple")
    add("rebuild_from_type_wrong_func.pt",
        torch_zip(b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(ctorch\nTensor\nctorch\nTensor\n)}t"
                  b"R."),
        "wraps torch.Tensor, which does not rebuild a tensor")
    add("call_storage.pt", torch_zip(b"\x80\x02ctorch\nFloatStorage\n)R."), "calls torch.FloatStorage (only")

    # A deflated member that claims an absurd size (a bomb, or a lie).
    bomb = bytearray(torch_zip(b"\x80\x02}.", deflate_pickle=True))
    cd = struct.unpack_from("<I", bomb, bomb.rindex(b"PK\x05\x06") + 16)[0]
    struct.pack_into("<I", bomb, cd + 24, 0x7FFFFFF0)  # first member (data.pkl): uncompressed size
    add("deflate_size_lie.pt", bytes(bomb), "claims", why="deflated member claiming 2 GB")
    damaged = bytearray(torch_zip(b"\x80\x02" + b"N" * 1000 + b"0" * 1000 + b"}.", deflate_pickle=True))
    local = damaged.index(b"PK\x03\x04")
    n_len, e_len = struct.unpack_from("<HH", damaged, local + 26)
    damaged[local + 30 + n_len + e_len] = 0xFF  # an invalid deflate block type
    add("deflate_damaged.pt", bytes(damaged), "damaged")

    with open(os.path.join(HOSTILE, "hostile.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


def norbert_expected():
    if not os.path.exists(SHARED_NORBERT):
        print("skipping norbert3-tiny.expected.json: ../shared is missing", file=sys.stderr)
        return
    sd = torch.load(SHARED_NORBERT, weights_only=True)
    entries = []
    for k, v in sd.items():
        raw = v.contiguous().numpy().tobytes()
        h = 0xCBF29CE484222325
        for b in raw:
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        entries.append({"name": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                        "fnv1a64": f"{h:016x}", "sum": float(v.double().sum())})
    with open(os.path.join(OUT, "norbert3-tiny.expected.json"), "w") as f:
        json.dump(entries, f, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    dtypes_path = valid_fixtures()
    hostile_fixtures(dtypes_path)
    norbert_expected()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote fixtures to {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
