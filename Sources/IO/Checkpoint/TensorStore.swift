#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One read interface over safetensors files and torch checkpoints (single or sharded), so model
/// loaders do not care which file a repository ships.
package protocol TensorStore: AnyObject, Sendable {
    /// The file (or index file) the tensors come from, for error messages.
    var path: String { get }
    /// Tensor names in file order.
    var names: [String] { get }
    func shape(_ name: String) throws -> [Int]
    func dtype(_ name: String) throws -> DType
    /// Row-major values widened to Float32 (from F32, F16, BF16 or F64).
    func floats(_ name: String) throws -> [Float]
    /// As `floats`, into a caller's buffer of exactly the tensor's element count.
    func readFloats(_ name: String, into: UnsafeMutablePointer<Float>, count: Int) throws
    /// Row-major values of an integer tensor (I64, I32, I16, I8, U8 or BOOL).
    func ints(_ name: String) throws -> [Int]
}

extension TensorStore {
    package func contains(_ name: String) -> Bool { (try? shape(name)) != nil }
}

extension SafetensorsFile: TensorStore {
    package func shape(_ name: String) throws -> [Int] { try info(name).shape }
    package func dtype(_ name: String) throws -> DType { try info(name).dtype }
}

extension TorchCheckpoint: TensorStore {}

/// Opens one weights file, telling the formats apart by content: a torch checkpoint is a ZIP archive
/// (or a legacy pickle, refused with advice); anything else is read as safetensors.
package func openTensorFile(path: String) throws -> any TensorStore {
    let file = try MappedFile(path: path)
    let b = file.bytes
    let looksTorch = b.count >= 4 && b[0] == 0x50 && b[1] == 0x4B && b[2] == 0x03 && b[3] == 0x04
    let looksLegacy = b.count >= 2 && b[0] == 0x80 && b[1] <= 5
    if looksTorch || looksLegacy { return try TorchCheckpoint(path: path) }
    return try SafetensorsFile(path: path)
}

/// The weights of a model folder, as the Hugging Face hub lays them out, preferring safetensors:
/// `model.safetensors`, then a sharded `model.safetensors.index.json`, then `pytorch_model.bin`, then a
/// sharded `pytorch_model.bin.index.json`.
package func openWeights(directory: String) throws -> any TensorStore {
    let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    var st = stat()
    guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
        throw EmbedError("\(directory): no such model folder")
    }
    let candidates = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"]
    for name in candidates {
        let path = dir + "/" + name
        guard FileSystem.exists(path) else { continue }
        if name.hasSuffix(".index.json") { return try ShardedTensorStore(indexPath: path) }
        return name.hasSuffix(".safetensors") ? try SafetensorsFile(path: path) : try TorchCheckpoint(path: path)
    }
    throw EmbedError("\(directory): no model weights found (looked for \(candidates.joined(separator: ", ")))")
}

/// A checkpoint split over several files by an index (`{"weight_map": {name: shard file}}`), as
/// `save_pretrained` writes for large models. Names follow the shards' own file order.
package final class ShardedTensorStore: TensorStore, @unchecked Sendable {
    package let path: String
    package let names: [String]
    package let shards: [any TensorStore]
    private let owner: [String: Int]

    package init(indexPath: String) throws {
        path = indexPath
        let bytes = try ByteReader(path: indexPath, detectCompression: false).readAll()
        let json: JSON
        do { json = try JSON.parse(bytes) } catch { throw EmbedError("\(indexPath):\(error)") }
        guard let map = json["weight_map"]?.object else { throw EmbedError("\(indexPath): no \"weight_map\" object") }
        let dir = indexPath.contains("/") ? String(indexPath[..<indexPath.lastIndex(of: "/")!]) : "."
        var files: [String] = []
        var wanted: [(name: String, file: String)] = []
        for (name, value) in map {
            guard let file = value.string, !file.isEmpty, !file.contains("/") else {
                throw EmbedError("\(indexPath): weight_map entry '\(name)' does not name a file in the same folder")
            }
            if !files.contains(file) { files.append(file) }
            wanted.append((name, file))
        }
        // Shard files are numbered (`-00001-of-00002`), so their sorted order is the model's order.
        files.sort()
        let shards = try files.map { try openTensorFile(path: dir + "/" + $0) }
        var owner: [String: Int] = [:]
        var names: [String] = []
        for (i, shard) in shards.enumerated() {
            for name in shard.names {
                if let j = owner[name] {
                    throw EmbedError("\(indexPath): tensor '\(name)' is in both \(files[j]) and \(files[i])")
                }
                owner[name] = i
                names.append(name)
            }
        }
        for (name, file) in wanted where owner[name].map({ files[$0] }) != file {
            throw EmbedError("\(indexPath): weight_map puts '\(name)' in \(file), which does not hold it")
        }
        self.shards = shards
        self.owner = owner
        self.names = names
    }

    private func shard(_ name: String) throws -> any TensorStore {
        guard let i = owner[name] else { throw EmbedError("\(path): no tensor named '\(name)'") }
        return shards[i]
    }

    package func shape(_ name: String) throws -> [Int] { try shard(name).shape(name) }
    package func dtype(_ name: String) throws -> DType { try shard(name).dtype(name) }
    package func floats(_ name: String) throws -> [Float] { try shard(name).floats(name) }
    package func readFloats(_ name: String, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        try shard(name).readFloats(name, into: out, count: count)
    }
    package func ints(_ name: String) throws -> [Int] { try shard(name).ints(name) }
}
