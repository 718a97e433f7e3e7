import IO

/// A repository on the hub: its id (`org/name`) and kind, which together fix its URLs and its
/// folder in the cache.
package struct HubRepo: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable { case model, dataset }

    package let id: String
    package let kind: Kind

    package init(_ id: String, kind: Kind = .model) {
        self.id = id
        self.kind = kind
    }

    /// `models`, `datasets`: the word in `/api/{plural}/...` and in cache folder names.
    package var plural: String { kind.rawValue + "s" }

    /// The prefix of the repo's web paths: none for models, `datasets/` for datasets.
    package var urlPrefix: String { kind == .model ? "" : "datasets/" }

    /// `models--org--name`, huggingface_hub's `repo_folder_name`.
    package var cacheFolderName: String { ([plural] + id.split(separator: "/").map(String.init)).joined(separator: "--") }

    package var description: String { kind == .model ? id : "dataset \(id)" }

    /// Whether a string can be a hub repo id (`name` or `org/name`, the hub's characters).
    package static func isValidID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, !s.contains("--"), !s.contains("..") else { return false }
        return parts.allSatisfy { p in
            !p.isEmpty && p.count <= 96 && p.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                    || c == 0x2D || c == 0x5F || c == 0x2E
            } && !p.hasPrefix("-") && !p.hasPrefix(".")
        }
    }

    /// A full commit hash: 40 lower-case hex digits.
    package static func isCommitHash(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// Percent-encoding as Python's `urllib.parse.quote`: letters, digits and `_.-~` stay, `/` stays
/// only when `keepSlash` (file paths do, revisions such as `refs/convert/parquet` do not).
func percentEncode(_ s: String, keepSlash: Bool) -> String {
    var out = ""
    let hexDigits = Array("0123456789ABCDEF")
    for c in s.utf8 {
        let keep = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == 0x5F || c == 0x2E || c == 0x2D || c == 0x7E || (keepSlash && c == 0x2F)
        if keep { out.unicodeScalars.append(Unicode.Scalar(c)) } else {
            out.append("%"); out.append(hexDigits[Int(c >> 4)]); out.append(hexDigits[Int(c & 15)])
        }
    }
    return out
}
