/// A pickled value, as far as a PyTorch state dict needs them. Containers are classes because pickle
/// fills them after creating (and memoizing) them; see `PickleContainer` for why that stays safe.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    /// An allowlisted global (class or function), never anything else.
    case global(TorchGlobal)
    /// A storage named by a persistent id: `('storage', <storage class>, key, location, numel)`.
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)

    /// Nesting depth, 0 for scalars; kept small so no walk (or deinit) of a value can overflow the stack.
    var depth: Int {
        switch self {
        case .tuple(let t): t.depth
        case .list(let l): l.depth
        case .dict(let d): d.depth
        default: 0
        }
    }

    /// The type name with its article, for messages ("an int", "a list").
    var aTypeName: String {
        let name = typeName
        return (["int", "OrderedDict"].contains(name) ? "an " : "a ") + name
    }

    var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict(let d): d.isOrdered ? "OrderedDict" : "dict"
        case .global(let g): g.qualifiedName
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// Mutable containers are frozen the moment they are put inside another value, and a frozen container
/// cannot be changed. Real pickles fill a container right after creating it, before nesting it, so this
/// costs nothing for them; for hostile ones it means the recorded depth of every value is exact and no
/// reference cycle can be built (a cycle needs a container changed after it was nested).
class PickleContainer {
    fileprivate(set) var depth = 1
    fileprivate(set) var frozen = false
}

final class PickleTuple: PickleContainer {
    let items: [PickleValue]
    /// Nests `items`, so freezes the containers among them (callers check the depth limit first).
    init(_ items: [PickleValue]) {
        self.items = items
        super.init()
        frozen = true
        depth = 1 + (items.map(\.depth).max() ?? 0)
        for item in items {
            switch item {
            case .list(let l): l.frozen = true
            case .dict(let d): d.frozen = true
            default: break
            }
        }
    }
}

final class PickleList: PickleContainer {
    fileprivate(set) var items: [PickleValue] = []
}

/// A dict or OrderedDict: insertion-ordered, keys str or int (all a state dict has).
final class PickleDict: PickleContainer {
    enum Key: Hashable, CustomStringConvertible {
        case string(String), int(Int)
        var description: String {
            switch self {
            case .string(let s): s
            case .int(let i): String(i)
            }
        }
    }

    let isOrdered: Bool
    fileprivate(set) var keys: [Key] = []
    fileprivate(set) var values: [PickleValue] = []
    private var index: [Key: Int] = [:]

    init(ordered: Bool) { isOrdered = ordered }

    /// Python semantics: setting an existing key replaces its value and keeps its position.
    fileprivate func set(_ key: Key, _ value: PickleValue) {
        if let i = index[key] {
            values[i] = value
        } else {
            index[key] = keys.count
            keys.append(key)
            values.append(value)
        }
    }
}

/// The only globals a pickle may name. Everything else (`os.system`, `builtins.eval`, a model's own
/// classes, ...) is refused by name when the GLOBAL opcode is read, before anything could call it.
enum TorchGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildTensor
    case rebuildParameter
    case rebuildParameterWithState
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`: how torch pickles a tensor that
    /// carries Python attributes; the attributes (`state`) are dropped.
    case rebuildFromTypeV2
    /// `torch.Tensor` or `torch.nn.parameter.Parameter`, only as `rebuildFromTypeV2`'s type argument.
    case tensorType(String)
    case storageType(DType, String)

    static func lookup(module: String, name: String) -> TorchGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromTypeV2
        case ("torch", "Tensor"): return .tensorType("torch.Tensor")
        case ("torch.nn.parameter", "Parameter"): return .tensorType("torch.nn.parameter.Parameter")
        case ("torch", _):
            let types: [String: DType] = [
                "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
                "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
                "ByteStorage": .u8, "BoolStorage": .bool,
            ]
            return types[name].map { .storageType($0, name) }
        default: return nil
        }
    }

    var qualifiedName: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensor: "torch._utils._rebuild_tensor"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: "torch._tensor._rebuild_from_type_v2"
        case .tensorType(let n): n
        case .storageType(_, let n): "torch.\(n)"
        }
    }
}

struct TorchStorageRef {
    let key: String
    let dtype: DType
    let numel: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage.
final class TorchTensorRef {
    let storage: TorchStorageRef
    let offset: Int
    let shape: [Int]
    let strides: [Int]
    init(storage: TorchStorageRef, offset: Int, shape: [Int], strides: [Int]) {
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.strides = strides
    }
}

/// Limits against hostile input. Real state dicts stay far below all of them (a 10,000-tensor
/// checkpoint memoizes ~100k values; Python's pickler batches at most 1,000 items per MARK).
struct PickleLimits {
    var maxDepth = 100
    var maxStack = 1 << 20
    var maxMarks = 1 << 16
    var maxMemo = 1 << 18  // a state dict memoizes a few entries per tensor; more only costs time and memory
    var maxRank = 64
}

/// Executes the pickle virtual machine for `data.pkl` without ever calling arbitrary code: only the
/// opcodes a state dict uses (binary protocols 2–5) and only the globals in `TorchGlobal`. Every read is
/// bounds-checked, and depth, stack, mark and memo sizes are limited, so hostile bytes give an
/// `EmbedError` naming the offset and opcode at fault.
struct SafeUnpickler {
    let data: UnsafeRawBufferPointer
    let source: String
    var limits = PickleLimits()

    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var opStart = 0
    private var op: UInt8 = 0

    init(data: UnsafeRawBufferPointer, source: String, limits: PickleLimits = PickleLimits()) {
        self.data = data
        self.source = source
        self.limits = limits
    }

    /// Runs to STOP and returns the pickled object.
    mutating func load() throws -> PickleValue {
        while true {
            opStart = pos
            op = try byte()
            switch op {
            case 0x80:  // PROTO
                let v = try byte()
                guard v >= 2 && v <= 5 else { throw fail("pickle protocol \(v) is not supported (torch writes protocol 2)") }
            case 0x95:  // FRAME: a length hint for buffered readers; everything is in memory already
                let n = try uint(8)
                guard n <= data.count - pos else { throw fail("frame of \(n) bytes runs past the end") }
            case 0x2E:  // STOP
                guard stack.count > (marks.last ?? 0), let v = stack.popLast() else { throw fail("STOP with nothing on the stack") }
                return v
            case 0x28:  // MARK
                guard marks.count < limits.maxMarks else { throw fail("more than \(limits.maxMarks) nested MARKs") }
                marks.append(stack.count)
            case 0x30:  // POP: as in Python, with nothing above the last MARK it pops the MARK
                if let m = marks.last, m == stack.count {
                    marks.removeLast()
                } else {
                    guard stack.popLast() != nil else { throw fail("POP from an empty stack") }
                }
            case 0x31:  // POP_MARK
                _ = try popMark()
            case 0x32:  // DUP
                guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("DUP with nothing on the stack") }
                try push(top)
            case 0x4E: try push(.none)  // NONE
            case 0x88: try push(.bool(true))  // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x4B: try push(.int(try uint(1)))  // BININT1
            case 0x4D: try push(.int(try uint(2)))  // BININT2
            case 0x8A: try push(.int(try long(try uint(1))))  // LONG1
            case 0x8B: try push(.int(try long(try uint(4))))  // LONG4
            case 0x47:  // BINFLOAT: big-endian double
                let bits = try uint(8, bigEndian: true)
                try push(.float(Double(bitPattern: UInt64(bitPattern: Int64(bits)))))
            case 0x58: try push(.string(try text(try uint(4))))  // BINUNICODE
            case 0x8C: try push(.string(try text(try uint(1))))  // SHORT_BINUNICODE
            case 0x8D: try push(.string(try text(try uint(8))))  // BINUNICODE8
            case 0x54: try push(.string(try text(try uint(4))))  // BINSTRING (Python 2 str)
            case 0x55: try push(.string(try text(try uint(1))))  // SHORT_BINSTRING
            case 0x42: try push(.bytes(Array(try take(try uint(4)))))  // BINBYTES
            case 0x43: try push(.bytes(Array(try take(try uint(1)))))  // SHORT_BINBYTES
            case 0x8E: try push(.bytes(Array(try take(try uint(8)))))  // BINBYTES8
            case 0x29: try push(.tuple(PickleTuple([])))  // EMPTY_TUPLE
            case 0x85: try push(try tuple(try popTop(1)))  // TUPLE1
            case 0x86: try push(try tuple(try popTop(2)))  // TUPLE2
            case 0x87: try push(try tuple(try popTop(3)))  // TUPLE3
            case 0x74: try push(try tuple(try popMark()))  // TUPLE
            case 0x5D: try push(.list(PickleList()))  // EMPTY_LIST
            case 0x7D: try push(.dict(PickleDict(ordered: false)))  // EMPTY_DICT
            case 0x6C:  // LIST
                let items = try popMark()
                let list = PickleList()
                try append(items, to: list)
                try push(.list(list))
            case 0x64:  // DICT
                let items = try popMark()
                let dict = PickleDict(ordered: false)
                try setItems(items, in: dict)
                try push(.dict(dict))
            case 0x61:  // APPEND
                let item = try popTop(1)
                try append(item, to: try topList())
            case 0x65:  // APPENDS
                let items = try popMark()
                try append(items, to: try topList())
            case 0x73:  // SETITEM
                let kv = try popTop(2)
                try setItems(kv, in: try topDict())
            case 0x75:  // SETITEMS
                let items = try popMark()
                try setItems(items, in: try topDict())
            case 0x71: try put(try uint(1))  // BINPUT
            case 0x72: try put(try uint(4))  // LONG_BINPUT
            case 0x94: try put(memo.count)  // MEMOIZE
            case 0x68: try get(try uint(1))  // BINGET
            case 0x6A: try get(try uint(4))  // LONG_BINGET
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                try push(.global(try global(module, name)))
            case 0x93:  // STACK_GLOBAL
                let mn = try popTop(2)
                guard case .string(let module) = mn[0], case .string(let name) = mn[1] else {
                    throw fail("STACK_GLOBAL needs two strings, got \(mn[0].typeName) and \(mn[1].typeName)")
                }
                try push(.global(try global(module, name)))
            case 0x52, 0x81:  // REDUCE, NEWOBJ: callable(*args), for allowlisted callables only
                let fa = try popTop(2)
                guard case .global(let g) = fa[0] else { throw fail("cannot call \(fa[0].aTypeName)") }
                guard case .tuple(let args) = fa[1] else { throw fail("\(g.qualifiedName) called with \(fa[1].aTypeName), not a tuple") }
                try push(try call(g, args.items))
            case 0x62:  // BUILD: sets an object's state; a state dict's `_metadata` (versions) is dropped
                let state = try popTop(1)[0]
                guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw fail("BUILD with nothing on the stack") }
                switch (target, state) {
                case (.dict, .dict), (.dict, .none), (.tensor, .none), (.tensor, .dict): break
                case (.dict, .tuple(let t)) where t.items.count == 2: break  // (dict state, slot state)
                default: throw fail("BUILD of \(target.aTypeName) with \(state.aTypeName) state is not supported")
                }
            case 0x51:  // BINPERSID
                let pid = try popTop(1)[0]
                try push(try persistentLoad(pid))
            default:
                throw fail("opcode \(hexByte(op)) is not supported in a state dict")
            }
        }
    }

    // MARK: - Stack, memo and containers

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < limits.maxStack else { throw fail("stack grows beyond \(limits.maxStack) items") }
        stack.append(v)
    }

    private mutating func popTop(_ n: Int) throws -> [PickleValue] {
        let floor = marks.last ?? 0
        guard stack.count - floor >= n else { throw fail("needs \(n) item\(n == 1 ? "" : "s") on the stack") }
        let items = Array(stack[(stack.count - n)...])
        stack.removeLast(n)
        return items
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw fail("no MARK to pop to") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func put(_ i: Int) throws {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("memoizes with nothing on the stack") }
        guard memo.count < limits.maxMemo || memo[i] != nil else { throw fail("memo grows beyond \(limits.maxMemo) entries") }
        memo[i] = top
    }

    private mutating func get(_ i: Int) throws {
        guard let v = memo[i] else { throw fail("memo entry \(i) was never stored") }
        try push(v)
    }

    private func topList() throws -> PickleList {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("needs a list on the stack") }
        guard case .list(let l) = top else { throw fail("appends to \(top.aTypeName), not a list") }
        return l
    }

    private func topDict() throws -> PickleDict {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("needs a dict on the stack") }
        guard case .dict(let d) = top else { throw fail("sets items on \(top.aTypeName), not a dict") }
        return d
    }

    /// Freezes the children (they are now nested), then refuses to change a frozen parent: see
    /// `PickleContainer`. The order matters: `l.append(l)` freezes `l` first and is then refused.
    private func adopt(_ children: [PickleValue], into parent: PickleContainer) throws {
        try checkDepth(children)
        for c in children {
            switch c {
            case .list(let l): l.frozen = true
            case .dict(let d): d.frozen = true
            default: break
            }
        }
        guard !parent.frozen else { throw fail("changes a container after nesting it (not something torch writes)") }
        parent.depth = max(parent.depth, 1 + (children.map(\.depth).max() ?? 0))
    }

    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        try checkDepth(items)
        return .tuple(PickleTuple(items))
    }

    private func checkDepth(_ children: [PickleValue]) throws {
        if let d = children.map(\.depth).max(), d + 1 > limits.maxDepth {
            throw fail("values nest deeper than \(limits.maxDepth) levels")
        }
    }

    private func append(_ items: [PickleValue], to list: PickleList) throws {
        try adopt(items, into: list)
        list.items.append(contentsOf: items)
    }

    private func setItems(_ items: [PickleValue], in dict: PickleDict) throws {
        guard items.count % 2 == 0 else { throw fail("an odd number of items for key/value pairs") }
        try adopt(items, into: dict)
        var i = 0
        while i < items.count {
            let key: PickleDict.Key
            switch items[i] {
            case .string(let s): key = .string(s)
            case .int(let n): key = .int(n)
            default: throw fail("a dict key of type \(items[i].typeName) is not supported")
            }
            dict.set(key, items[i + 1])
            i += 2
        }
    }

    // MARK: - Globals, calls and persistent ids

    private func global(_ module: String, _ name: String) throws -> TorchGlobal {
        guard let g = TorchGlobal.lookup(module: module, name: name) else {
            throw fail("refuses global '\(module).\(name)': only tensors and OrderedDicts are read from a checkpoint (a pickle that names other globals can run code; if it is a whole pickled model, save its state_dict() instead)")
        }
        return g
    }

    private func call(_ g: TorchGlobal, _ args: [PickleValue]) throws -> PickleValue {
        switch g {
        case .orderedDict:
            guard args.isEmpty else { throw fail("collections.OrderedDict called with \(args.count) arguments (expected none)") }
            return .dict(PickleDict(ordered: true))
        case .rebuildTensorV2, .rebuildTensor:
            // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
            let valid = g == .rebuildTensor ? [4] : [6, 7]
            guard valid.contains(args.count) else {
                throw fail("\(g.qualifiedName) called with \(args.count) arguments (expected \(valid.map(String.init).joined(separator: " or ")))")
            }
            guard case .storage(let storage) = args[0] else { throw fail("\(g.qualifiedName): argument 1 is \(args[0].aTypeName), not a storage") }
            guard case .int(let offset) = args[1], offset >= 0 else { throw fail("\(g.qualifiedName): the storage offset is not a non-negative int") }
            let shape = try intTuple(args[2], "size")
            let strides = try intTuple(args[3], "stride")
            guard shape.count == strides.count else {
                throw fail("\(g.qualifiedName): size has \(shape.count) dimensions but stride \(strides.count)")
            }
            guard shape.count <= limits.maxRank else { throw fail("a tensor of rank \(shape.count) (limit \(limits.maxRank))") }
            return .tensor(TorchTensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter, .rebuildParameterWithState:
            // (data, requires_grad, backward_hooks[, state]): a Parameter is its data tensor.
            let n = g == .rebuildParameter ? 3 : 4
            guard args.count == n, case .tensor = args[0] else {
                throw fail("\(g.qualifiedName) needs \(n) arguments starting with a tensor")
            }
            return args[0]
        case .rebuildFromTypeV2:
            guard args.count == 4, case .global(let inner) = args[0], case .global(.tensorType) = args[1],
                  case .tuple(let innerArgs) = args[2] else {
                throw fail("\(g.qualifiedName) needs (rebuild function, tensor type, arguments, state)")
            }
            guard [.rebuildTensorV2, .rebuildTensor, .rebuildParameter, .rebuildParameterWithState].contains(inner) else {
                throw fail("\(g.qualifiedName) wraps \(inner.qualifiedName), which does not rebuild a tensor")
            }
            return try call(inner, innerArgs.items)
        case .storageType, .tensorType:
            throw fail("calls \(g.qualifiedName) (only the rebuild functions are called)")
        }
    }

    private func intTuple(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard case .tuple(let t) = v else { throw fail("the tensor \(what) is \(v.aTypeName), not a tuple") }
        return try t.items.map {
            guard case .int(let n) = $0, n >= 0 else { throw fail("the tensor \(what) holds a non-integer or negative entry") }
            return n
        }
    }

    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, t.items.count == 5, case .string("storage") = t.items[0] else {
            throw fail("persistent id is not ('storage', type, key, location, numel)")
        }
        guard case .global(let g) = t.items[1], case .storageType(let dtype, _) = g else {
            throw fail("persistent id names \(t.items[1].aTypeName), not a storage type")
        }
        guard case .string(let key) = t.items[2] else { throw fail("persistent id's storage key is \(t.items[2].aTypeName)") }
        guard case .string = t.items[3] else { throw fail("persistent id's location is \(t.items[3].aTypeName)") }
        guard case .int(let numel) = t.items[4], numel >= 0 else { throw fail("persistent id's element count is not a non-negative int") }
        return .storage(TorchStorageRef(key: key, dtype: dtype, numel: numel))
    }

    // MARK: - Reading bytes

    private func fail(_ message: String) -> EmbedError {
        EmbedError("\(source): at byte \(opStart) (opcode \(hexByte(op))): \(message)")
    }

    private mutating func byte() throws -> UInt8 {
        guard pos < data.count else { throw fail("the pickle ends before STOP (truncated)") }
        defer { pos += 1 }
        return data[pos]
    }

    /// An unsigned little-endian (or big-endian) integer of `n` ≤ 8 bytes; values above Int.max fail.
    private mutating func uint(_ n: Int, bigEndian: Bool = false) throws -> Int {
        let b = try take(n)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[bigEndian ? n - 1 - i : i]) << (8 * UInt64(i)) }
        if bigEndian { return Int(bitPattern: UInt(v)) }
        guard v <= UInt64(Int.max) else { throw fail("length \(v) is impossible") }
        return Int(v)
    }

    /// LONG1/LONG4: little-endian two's complement of `n` bytes; more than 64 bits is refused.
    private mutating func long(_ n: Int) throws -> Int {
        guard n <= 8 else { throw fail("an integer of \(n) bytes is too large") }
        if n == 0 { return 0 }
        let b = try take(n)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        if n < 8 && b[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }  // sign-extend
        return Int(Int64(bitPattern: v))
    }

    /// The next `n` bytes, indexed from 0.
    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= data.count - pos else {
            throw fail("needs \(n) bytes but only \(data.count - pos) remain (truncated or damaged)")
        }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: data[pos..<(pos + n)])
    }

    private mutating func text(_ n: Int) throws -> String {
        let b = try take(n)
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("a string that is not valid UTF-8") }
        return s
    }

    /// A newline-terminated ASCII line (GLOBAL's operands), at most 256 bytes.
    private mutating func line() throws -> String {
        let start = pos
        while pos < data.count && data[pos] != 0x0A {
            pos += 1
            if pos - start > 256 { throw fail("a GLOBAL name longer than 256 bytes") }
        }
        guard pos < data.count else { throw fail("the pickle ends inside a GLOBAL name (truncated)") }
        let b = data[start..<pos]
        pos += 1
        guard b.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), let s = String(validating: b, as: UTF8.self) else {
            throw fail("a GLOBAL name that is not printable ASCII")
        }
        return s
    }
}

private func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
}
