/// One tensor of a torch checkpoint: a strided view (in elements) into a storage of the archive.
package struct TorchTensorInfo: Sendable, Equatable {
    package let name: String
    package let dtype: DType
    package let shape: [Int]
    package let strides: [Int]
    package let storageOffset: Int
    /// The storage's key: its bytes are the archive member `<prefix>/data/<key>`.
    package let storageKey: String
    package var count: Int { shape.reduce(1, *) }
}

/// A PyTorch checkpoint written by `torch.save` (the ZIP format, default since torch 1.6), read without
/// Python: `<prefix>/data.pkl` is a pickled state dict whose tensors name storages kept as members
/// `<prefix>/data/<key>`. The pickle is run by `SafeUnpickler`, which only knows the globals a state
/// dict uses, so loading a checkpoint can never execute code from it.
///
/// Nested dicts (`{"model": state_dict, "epoch": 3}`) are flattened with dotted names
/// (`model.encoder.weight`); non-tensor leaves are skipped. Tensors may be non-contiguous views and
/// may share storages; every view is checked to lie inside its storage when the file is opened.
/// The legacy pre-1.6 format (a bare pickle stream) is refused with a message saying how to re-save.
package final class TorchCheckpoint: @unchecked Sendable {
    package let path: String
    /// State-dict keys in file order.
    package let names: [String]
    package let tensors: [String: TorchTensorInfo]
    private let archive: ZipArchive
    /// The archive's top folder with its slash, e.g. `pytorch_model/` or `archive/`.
    private let prefix: String

    /// `verifyCRC` checks each storage member's CRC-32 the first time it is read.
    package init(path: String, verifyCRC: Bool = true) throws {
        self.path = path
        let file = try MappedFile(path: path)
        try TorchCheckpoint.refuseLegacy(file)
        archive = try ZipArchive(file: file, verifyCRC: verifyCRC)

        let pickles = archive.entries.filter {
            $0.name.hasSuffix("/data.pkl") && $0.name.dropLast("/data.pkl".count).firstIndex(of: "/") == nil
        }
        guard pickles.count == 1 else {
            throw EmbedError(pickles.isEmpty
                ? "\(path): a ZIP archive without <name>/data.pkl, so not a torch.save checkpoint"
                : "\(path): \(pickles.count) top-level data.pkl members; which one is the checkpoint is ambiguous")
        }
        prefix = String(pickles[0].name.dropLast("data.pkl".count))
        if archive.entry(prefix + "constants.pkl") != nil {
            throw EmbedError("\(path): a TorchScript archive (torch.jit.save), not a torch.save state dict")
        }
        if archive.entry(prefix + "byteorder") != nil {
            let order = try archive.contents(of: prefix + "byteorder")
            let text = order.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            guard text == "little" else {
                let shown = text.count <= 16 ? "'\(text)'" : "(\(order.count) bytes)"
                throw EmbedError("\(path): its byteorder is \(shown), not 'little'; only little-endian checkpoints are supported")
            }
        }

        // Checked before inflating: a deflated pickle must not make us allocate gigabytes.
        guard pickles[0].size <= 1 << 30 else { throw EmbedError("\(path): data.pkl is over 1 GiB") }
        let pickle = try archive.contents(of: pickles[0].name)
        let source = "\(path): \(pickles[0].name)"
        let root = try pickle.withUnsafeBytes {
            var unpickler = SafeUnpickler(data: $0, source: source)
            return try unpickler.load()
        }

        var found: [(String, TorchTensorRef)] = []
        guard case .dict(let top) = root else {
            throw EmbedError("\(path): the pickle holds \(root.aTypeName), not a state dict (a dict of tensors)")
        }
        TorchCheckpoint.flatten(.dict(top), prefix: "", into: &found)

        var infos: [String: TorchTensorInfo] = [:]
        var names: [String] = []
        var storageTypes: [String: DType] = [:]
        for (name, t) in found {
            guard infos[name] == nil else { throw EmbedError("\(path): two tensors flatten to the name '\(name)'") }
            let s = t.storage
            let member = prefix + "data/" + s.key
            guard let entry = archive.entry(member) else {
                throw EmbedError("\(path): tensor '\(name)': its storage '\(s.key)' is missing from the archive (no member '\(member)')")
            }
            if let seen = storageTypes[s.key], seen != s.dtype {
                throw EmbedError("\(path): tensor '\(name)': storage '\(s.key)' is read both as \(seen.rawValue) and \(s.dtype.rawValue)")
            }
            storageTypes[s.key] = s.dtype
            let (bytes, overflow) = s.numel.multipliedReportingOverflow(by: s.dtype.size)
            guard !overflow, entry.size == bytes else {
                throw EmbedError("\(path): tensor '\(name)': storage '\(s.key)' should hold \(s.numel) \(s.dtype.rawValue) values but its member has \(entry.size) bytes")
            }
            try TorchCheckpoint.checkView(t, name: name, path: path)
            infos[name] = TorchTensorInfo(name: name, dtype: s.dtype, shape: t.shape, strides: t.strides,
                                          storageOffset: t.offset, storageKey: s.key)
            names.append(name)
        }
        self.names = names
        self.tensors = infos
    }

    /// Pre-1.6 files are a bare pickle stream (or, older still, a tar file); neither is a ZIP.
    private static func refuseLegacy(_ file: MappedFile) throws {
        let b = file.bytes
        let isPickle = b.count >= 2 && b[0] == 0x80 && b[1] <= 5
        let isTar = b.count >= 262 && Array(b[257..<262]) == Array("ustar".utf8)
        if isPickle || isTar {
            throw EmbedError("\(file.path): a legacy (pre-1.6, non-ZIP) torch.save file, which is not supported; re-save it with a current torch: torch.save(torch.load(f, weights_only=True), f)")
        }
    }

    /// Walks dicts, lists and tuples in order, naming tensors by their dotted key paths. Depth is
    /// bounded by the unpickler, and its values cannot form cycles.
    private static func flatten(_ v: PickleValue, prefix: String, into out: inout [(String, TorchTensorRef)]) {
        let join = { (k: String) in prefix.isEmpty ? k : prefix + "." + k }
        switch v {
        case .tensor(let t): out.append((prefix, t))
        case .dict(let d):
            for (k, v) in zip(d.keys, d.values) { flatten(v, prefix: join(k.description), into: &out) }
        case .list(let l):
            for (i, v) in l.items.enumerated() { flatten(v, prefix: join(String(i)), into: &out) }
        case .tuple(let t):
            for (i, v) in t.items.enumerated() { flatten(v, prefix: join(String(i)), into: &out) }
        default: break
        }
    }

    /// The view's last element, offset + Σ (size−1)·stride, must lie inside the storage. A view that
    /// repeats elements (stride 0, as `expand` makes) may have more elements than its storage, but not
    /// absurdly many: a few bytes of pickle must not make a reader allocate gigabytes.
    private static func checkView(_ t: TorchTensorRef, name: String, path: String) throws {
        var count = 1
        for n in t.shape {
            let (p, o) = count.multipliedReportingOverflow(by: n)
            guard !o, p <= 1 << 40 else { throw EmbedError("\(path): tensor '\(name)': size \(t.shape) is too large") }
            count = p
        }
        guard count <= max(t.storage.numel, 1 << 28) else {
            throw EmbedError("\(path): tensor '\(name)': a view of \(count) elements over a storage of \(t.storage.numel) (too many repeats)")
        }
        if count == 0 { return }
        var last = t.offset
        var overflow = false
        for (n, s) in zip(t.shape, t.strides) {
            let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(step)
            overflow = overflow || o1 || o2
            last = sum
        }
        guard !overflow, last < t.storage.numel else {
            throw EmbedError("\(path): tensor '\(name)': the view (offset \(t.offset), size \(t.shape), stride \(t.strides)) reaches past its storage '\(t.storage.key)' of \(t.storage.numel) elements")
        }
    }

    package func info(_ name: String) throws -> TorchTensorInfo {
        guard let t = tensors[name] else { throw EmbedError("\(path): no tensor named '\(name)'") }
        return t
    }

    package func shape(_ name: String) throws -> [Int] { try info(name).shape }

    package func dtype(_ name: String) throws -> DType { try info(name).dtype }

    /// The tensor in row-major order as Float32 (from F32, F16, BF16 or F64).
    package func floats(_ name: String) throws -> [Float] {
        let t = try info(name)
        guard t.count > 0 else {
            var unused: Float = 0
            try readFloats(name, into: &unused, count: 0)  // still refuses an integer tensor
            return []
        }
        return try [Float](unsafeUninitializedCapacity: t.count) { out, n in
            try readFloats(name, into: out.baseAddress!, count: t.count)
            n = t.count
        }
    }

    /// Converts into a caller's buffer in row-major order, checking the element count and type.
    package func readFloats(_ name: String, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        let t = try info(name)
        guard t.count == count else {
            throw EmbedError("\(path): tensor '\(name)' has shape \(t.shape) (\(t.count) values), expected \(count)")
        }
        guard [.f32, .f16, .bf16, .f64].contains(t.dtype) else {
            throw EmbedError("\(path): tensor '\(name)' is \(t.dtype.rawValue), expected a float type")
        }
        if count == 0 { return }
        let storage = try archive.contents(of: prefix + "data/" + t.storageKey)
        let dtype = t.dtype
        storage.withUnsafeBytes { raw in
            let base = raw.baseAddress!  // non-empty: the view was checked to lie inside it
            StridedRuns(shape: t.shape, strides: t.strides, offset: t.storageOffset).forEach { src, dst, n, stride in
                convertRun(base, dtype: dtype, start: src, stride: stride, count: n, into: out + dst)
            }
        }
    }

    /// The tensor in row-major order as integers (from I64, I32, I16, I8, U8 or BOOL).
    package func ints(_ name: String) throws -> [Int] {
        let t = try info(name)
        guard [.i64, .i32, .i16, .i8, .u8, .bool].contains(t.dtype) else {
            throw EmbedError("\(path): tensor '\(name)' is \(t.dtype.rawValue), expected an integer type")
        }
        if t.count == 0 { return [] }
        let storage = try archive.contents(of: prefix + "data/" + t.storageKey)
        let dtype = t.dtype
        return storage.withUnsafeBytes { base in [Int](unsafeUninitializedCapacity: t.count) { out, n in
            StridedRuns(shape: t.shape, strides: t.strides, offset: t.storageOffset).forEach { src, dst, count, stride in
                for i in 0..<count {
                    let e = src + i * stride
                    let v: Int
                    switch dtype {
                    case .i64: v = Int(base.loadUnaligned(fromByteOffset: e * 8, as: Int64.self))
                    case .i32: v = Int(base.loadUnaligned(fromByteOffset: e * 4, as: Int32.self))
                    case .i16: v = Int(base.loadUnaligned(fromByteOffset: e * 2, as: Int16.self))
                    case .i8: v = Int(Int8(bitPattern: base[e]))
                    default: v = Int(base[e])
                    }
                    out[dst + i] = v
                }
            }
            n = t.count
        } }
    }
}

/// Converts `count` elements, `stride` elements apart from element `start`, to Float32.
private func convertRun(_ base: UnsafeRawPointer, dtype: DType, start: Int, stride: Int, count: Int,
                        into out: UnsafeMutablePointer<Float>) {
    let size = dtype.size
    let p = base + start * size
    let step = stride * size
    switch dtype {
    case .f32 where stride == 1:
        UnsafeMutableRawPointer(out).copyMemory(from: p, byteCount: count * 4)
    case .f32:
        for i in 0..<count { out[i] = p.loadUnaligned(fromByteOffset: i * step, as: Float.self) }
    case .f16:
        for i in 0..<count { out[i] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: i * step, as: UInt16.self))) }
    case .bf16:
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: i * step, as: UInt16.self)) << 16) }
    case .f64:
        for i in 0..<count { out[i] = Float(p.loadUnaligned(fromByteOffset: i * step, as: Double.self)) }
    default:
        preconditionFailure("convertRun on \(dtype)")  // callers check the dtype
    }
}

/// A strided view walked in row-major order as runs along its (merged) innermost dimension, so
/// contiguous tensors are one run (one memcpy) and transposed ones a run per row.
private struct StridedRuns {
    /// Dimensions after dropping size-1 ones and merging those that are contiguous with each other.
    private var shape: [Int] = []
    private var strides: [Int] = []
    private let offset: Int
    private let total: Int

    init(shape: [Int], strides: [Int], offset: Int) {
        self.offset = offset
        total = shape.reduce(1, *)
        for (n, s) in zip(shape, strides) where n != 1 {
            if let lastN = self.shape.last, let lastS = self.strides.last, lastS == s * n {
                self.shape[self.shape.count - 1] = lastN * n
                self.strides[self.strides.count - 1] = s
            } else {
                self.shape.append(n)
                self.strides.append(s)
            }
        }
    }

    /// Calls `body(sourceElement, destinationElement, runLength, sourceStride)` for each run.
    func forEach(_ body: (Int, Int, Int, Int) -> Void) {
        if total == 0 { return }
        guard let inner = shape.last, let innerStride = strides.last else {
            body(offset, 0, 1, 1)  // a scalar, or only size-1 dimensions
            return
        }
        let outer = shape.count - 1
        var index = [Int](repeating: 0, count: outer)
        var src = offset
        var dst = 0
        while dst < total {
            body(src, dst, inner, innerStride)
            dst += inner
            // Odometer over the outer dimensions.
            var d = outer - 1
            while d >= 0 {
                index[d] += 1
                src += strides[d]
                if index[d] < shape[d] { break }
                src -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}
