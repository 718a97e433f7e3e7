#if canImport(Glibc)
import Glibc
#endif
import IO
import Tokenizers
import Training

/// One fuzz target per reader of untrusted bytes. Each takes the fuzzer's bytes, runs them through
/// the reader as a tool would (parse, then read everything the file declares), and must end in a
/// value or a thrown error: a trap, a hang or an unbounded allocation is a bug.
enum FuzzTarget: String, CaseIterable {
    case safetensors, torch, parquet, json, jsonl, csv, yaml, tokenizer, regex, streams

    /// The file name the bytes are written to (readers pick their format by extension).
    var fileName: String {
        switch self {
        case .safetensors: "input.safetensors"
        case .torch: "pytorch_model.bin"
        case .parquet: "input.parquet"
        case .json: "input.json"
        case .jsonl: "input.jsonl"
        case .csv: "input.csv"
        case .yaml: "config.yaml"
        case .tokenizer: "tokenizer.json"
        case .regex: "regex.txt"
        case .streams: "input.jsonl.zst"
        }
    }

    func run(_ data: UnsafeRawBufferPointer, scratchDirectory: String) {
        let bytes = Array(data)
        switch self {
        case .json:
            _ = try? JSON.parse(data)
        case .yaml:
            _ = try? TrainingConfig.parse(bytes: bytes, path: fileName, overrides: [])
        case .tokenizer:
            guard let tokenizer = try? Tokenizer.fromTokenizerJSON(bytes, source: fileName) else { return }
            for text in FuzzTarget.sampleTexts { _ = try? tokenizer.encode(text, maxLength: 64) }
        case .regex:
            // The first line is the pattern, the rest the text it runs over.
            let split = bytes.firstIndex(of: 0x0A) ?? bytes.count
            let pattern = String(decoding: bytes[..<split], as: UTF8.self)
            let text = String(decoding: bytes[min(split + 1, bytes.count)...], as: UTF8.self)
            guard let regex = try? TokenizerRegex(pattern: pattern) else { return }
            _ = try? regex.matches(in: text)
        default:
            let path = scratchDirectory + "/" + fileName
            guard writeFile(path, data) else { return }
            readFile(path)
        }
    }

    private func readFile(_ path: String) {
        switch self {
        case .safetensors:
            guard let file = try? SafetensorsFile(path: path) else { return }
            for name in file.names { _ = try? file.floats(name) }
        case .torch:
            guard let checkpoint = try? TorchCheckpoint(path: path) else { return }
            for name in checkpoint.names { _ = try? checkpoint.floats(name) }
        case .parquet:
            guard let file = try? ParquetFile(path: path), let rows = try? file.rows() else { return }
            while (try? rows.next()) != nil {}  // nil at the end or on an error
        case .jsonl:
            guard let reader = try? JSONLReader(path: path) else { return }
            while (try? reader.next()) != nil {}  // nil at the end or on an error
        case .csv:
            guard let reader = try? CSVReader(path: path) else { return }
            while (try? reader.next()) != nil {}  // nil at the end or on an error
        case .streams:
            guard let reader = try? LineReader(path: path) else { return }
            while (try? reader.next()) != nil {}  // nil at the end or on an error
        default:
            break
        }
    }

    private func writeFile(_ path: String, _ data: UnsafeRawBufferPointer) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var done = 0
        while done < data.count {
            let n = write(fd, data.baseAddress! + done, data.count - done)
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    static let sampleTexts = [
        "Hva er hovedstaden i Norge?", "  Ålesund er fin.  ", "", "[CLS] 123,45 kr — e\u{301}\u{200B}\t\n",
        "日本語のテキスト and émojis 🙂🙂", String(repeating: "a", count: 300),
    ]
}
