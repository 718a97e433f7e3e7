import Foundation
import IO
import NN

/// What a model folder's `config_sentence_transformers.json` says about search: its prompts and
/// its similarity function. sentence-transformers' `encode_query` / `encode_document` prepend the
/// `query` prompt, resp. the first of `document`, `passage`, `corpus`, else the default prompt.
package struct ModelPrompts: Sendable, Equatable {
    package var prompts: [String: String] = [:]
    package var defaultPromptName: String?
    /// `similarity_fn_name` (nil: sentence-transformers' default, cosine).
    package var similarityFunction: String?

    package init(prompts: [String: String] = [:], defaultPromptName: String? = nil, similarityFunction: String? = nil) {
        self.prompts = prompts
        self.defaultPromptName = defaultPromptName
        self.similarityFunction = similarityFunction
    }

    /// Reads `<directory>/config_sentence_transformers.json`; no file means no prompts.
    package static func load(directory: String) throws -> ModelPrompts {
        let path = directory + "/config_sentence_transformers.json"
        guard FileManager.default.fileExists(atPath: path) else { return ModelPrompts() }
        let json = try FileSystem.readJSON(path)
        var p = ModelPrompts()
        if let o = json["prompts"]?.object {
            for (k, v) in o {
                guard let s = v.string else { throw EmbedError("\(path): prompts.\(k) must be a string") }
                p.prompts[k] = s
            }
        }
        p.defaultPromptName = json["default_prompt_name"]?.string
        p.similarityFunction = json["similarity_fn_name"]?.string
        return p
    }

    private var defaultPrompt: String { defaultPromptName.flatMap { prompts[$0] } ?? "" }

    /// The prompt `encode_query` prepends.
    package var query: String { prompts["query"] ?? defaultPrompt }

    /// The prompt `encode_document` prepends.
    package var document: String {
        for name in ["document", "passage", "corpus"] { if let p = prompts[name] { return p } }
        return defaultPrompt
    }
}

extension TextEmbedder {
    /// Vectors [texts.count, dimension] of `prompt + text` for each text, L2-normalized when
    /// `normalized` (as `encode(..., normalize_embeddings=True)`).
    package func embed(_ texts: [String], prompt: String, normalized: Bool, progress: ProgressBar? = nil) throws -> [Float] {
        var v = try embed(prompt.isEmpty ? texts : texts.map { prompt + $0 }, progress: progress)
        if normalized && !model.normalize { normalizeRows(&v, dimension: dimension) }
        return v
    }
}

/// Scales each row of `v` [rows, dimension] to unit length (rows of norm below 1e-12 by 1/1e-12,
/// as torch's `normalize`).
package func normalizeRows(_ v: inout [Float], dimension: Int) {
    let rows = dimension > 0 ? v.count / dimension : 0
    guard rows > 0 else { return }
    v.withUnsafeMutableBufferPointer { o in
        let norms = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { norms.deallocate() }
        normalizeRowsForward(o.baseAddress!, norms: norms, o.baseAddress!, rows: rows, C: dimension)
    }
}
