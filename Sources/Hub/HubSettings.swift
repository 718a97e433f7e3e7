import IO

/// Where the hub is and how to talk to it, read from the same environment variables
/// huggingface_hub reads (its `constants.py`), so one setting steers both tools:
/// `HF_ENDPOINT`, `HF_TOKEN` (then `HUGGING_FACE_HUB_TOKEN`, then the token file `HF_TOKEN_PATH`
/// or `$HF_HOME/token`), `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`), and the cache folder
/// `HF_HUB_CACHE` (or `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`, where `HF_HOME` defaults to
/// `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
package struct HubSettings: Sendable, Equatable {
    package var endpoint: String
    package var token: String?
    package var offline: Bool
    package var cacheDir: String

    package static let defaultEndpoint = "https://huggingface.co"

    package init(endpoint: String, token: String?, offline: Bool, cacheDir: String) {
        self.endpoint = HubSettings.trimSlashes(endpoint)
        self.token = token
        self.offline = offline
        self.cacheDir = cacheDir
    }

    /// Settings from an environment (`lookup` returns a variable's value); the process environment by default.
    package static func fromEnvironment(_ lookupOverride: ((String) -> String?)? = nil) -> HubSettings {
        let lookup = lookupOverride ?? environmentValue
        func nonEmpty(_ name: String) -> String? {
            guard let v = lookup(name), !v.isEmpty else { return nil }
            return v
        }
        let home = nonEmpty("HOME") ?? "/root"
        func expandUser(_ p: String) -> String {
            if p == "~" { return home }
            if p.hasPrefix("~/") { return home + String(p.dropFirst()) }
            return p
        }
        let hfHome = expandUser(nonEmpty("HF_HOME") ?? ((nonEmpty("XDG_CACHE_HOME") ?? home + "/.cache") + "/huggingface"))
        let cache = expandUser(nonEmpty("HF_HUB_CACHE") ?? nonEmpty("HUGGINGFACE_HUB_CACHE") ?? hfHome + "/hub")
        var token = cleanToken(nonEmpty("HF_TOKEN") ?? nonEmpty("HUGGING_FACE_HUB_TOKEN"))
        if token == nil {
            let tokenPath = expandUser(nonEmpty("HF_TOKEN_PATH") ?? hfHome + "/token")
            if FileSystem.isFile(tokenPath) { token = cleanToken(try? FileSystem.readText(tokenPath)) }
        }
        let offline = isTrue(lookup("HF_HUB_OFFLINE")) || isTrue(lookup("TRANSFORMERS_OFFLINE"))
        return HubSettings(endpoint: nonEmpty("HF_ENDPOINT") ?? defaultEndpoint, token: token, offline: offline, cacheDir: cache)
    }

    /// huggingface_hub's `_is_true`: 1, ON, YES or TRUE, any case.
    static func isTrue(_ value: String?) -> Bool {
        guard let v = value?.uppercased() else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(v)
    }

    static func cleanToken(_ token: String?) -> String? {
        guard let t = token.map({ httpTrim($0) }), !t.isEmpty else { return nil }
        return t
    }

    static func trimSlashes(_ s: String) -> String {
        var s = s
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
