import IO

/// A local file chosen for an upload: where it is on disk, its path relative to the uploaded
/// folder (what `--include`/`--exclude` match), and where it lands in the repository.
package struct LocalUploadFile: Sendable, Equatable {
    package let localPath: String
    package let relativePath: String
    package let repoPath: String
    package let size: Int

    package init(localPath: String, relativePath: String, repoPath: String, size: Int) {
        self.localPath = localPath
        self.relativePath = relativePath
        self.repoPath = repoPath
        self.size = size
    }
}

/// Which files an upload sends and where they land, with huggingface_hub's rules
/// (`upload_folder`, `filter_repo_objects`, `_validate_path_in_repo`), so `upload` and
/// `hf upload` choose the same files for the same arguments.
package enum UploadFiles {
    /// huggingface_hub's `DEFAULT_IGNORE_PATTERNS`: git's and the hub cache's own folders.
    package static let defaultIgnorePatterns = [
        ".git", ".git/*", "*/.git", "**/.git/**",
        ".cache/huggingface", ".cache/huggingface/*", "*/.cache/huggingface", "**/.cache/huggingface/**",
    ]

    /// Folders a repository path may not contain (huggingface_hub's `FORBIDDEN_FOLDERS`).
    static let forbiddenFolders: Set<String> = [".git", ".cache"]

    /// The paths that match any of `allow` (when given) and none of `ignore`, as
    /// `filter_repo_objects`: a pattern ending in `/` means everything below it, `\` is `/` (in
    /// patterns and paths).
    package static func filter(_ paths: [String], allow: [String], ignore: [String]) -> [String] {
        func slashes(_ p: String) -> String { String(p.map { $0 == "\\" ? "/" : $0 }) }
        func normalized(_ p: String) -> String {
            let s = slashes(p)
            return s.hasSuffix("/") ? s + "*" : s
        }
        let allow = allow.map(normalized)
        let ignore = ignore.map(normalized)
        return paths.filter { original in
            let path = slashes(original)
            return (allow.isEmpty || allow.contains { fnmatchCase($0, path) }) && !ignore.contains { fnmatchCase($0, path) }
        }
    }

    /// `path_in_repo` cleaned as huggingface_hub cleans it: no leading `/` or `./`, `.` is the root
    /// (""), and no `..`, `.git` or `.cache` component.
    package static func cleanRepoPath(_ path: String) throws -> String {
        var p = Substring(path)
        while p.hasPrefix("/") { p = p.dropFirst() }
        while p.hasPrefix("./") { p = p.dropFirst(2) }
        if p == "." || p.isEmpty { return "" }
        let parts = p.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") || parts.contains(".") {
            throw EmbedError("'\(path)': a path in the repository may not contain '.' or '..' components")
        }
        if let bad = parts.first(where: { forbiddenFolders.contains(String($0)) }) {
            throw EmbedError("'\(path)': a path in the repository may not contain a '\(bad)' folder (the hub refuses it)")
        }
        return String(p)
    }

    /// The files of `source` (a folder, or one file) to upload under `pathInRepo`: for a folder,
    /// every file below it (hidden ones too, symlinks followed) whose relative path passes
    /// `include`/`exclude` and the default ignores, landing at `pathInRepo/relative`; for a file,
    /// that file at `pathInRepo`, or at its name when `pathInRepo` is empty. Sorted by path
    /// components, as huggingface_hub orders them.
    package static func collect(source: String, pathInRepo: String?, include: [String], exclude: [String]) throws -> [LocalUploadFile] {
        if FileSystem.isFile(source) {
            let name = FileSystem.basename(source)
            let target = try cleanRepoPath(pathInRepo ?? name)
            return [LocalUploadFile(localPath: source, relativePath: name, repoPath: target.isEmpty ? try cleanRepoPath(name) : target,
                                    size: FileSystem.fileSize(source) ?? 0)]
        }
        guard FileSystem.isDirectory(source) else { throw EmbedError("\(source): no such file or folder") }
        var prefix = try cleanRepoPath(pathInRepo ?? "")
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let all = FileSystem.listFilesRecursively(source)
        let chosen = filter(all, allow: include, ignore: exclude + defaultIgnorePatterns)
        var files: [LocalUploadFile] = []
        for rel in sortedByComponents(chosen) {
            let repoPath = try cleanRepoPath(prefix.isEmpty ? rel : prefix + "/" + rel)
            let local = source.hasSuffix("/") ? source + rel : source + "/" + rel
            files.append(LocalUploadFile(localPath: local, relativePath: rel, repoPath: repoPath, size: FileSystem.fileSize(local) ?? 0))
        }
        return files
    }

    /// Python's ordering of `pathlib` paths: component by component, by code point.
    static func sortedByComponents(_ paths: [String]) -> [String] {
        paths.sorted { a, b in
            let x = a.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.utf8) }
            let y = b.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.utf8) }
            return x.lexicographicallyPrecedes(y) { $0.lexicographicallyPrecedes($1) }
        }
    }
}

/// Python's `fnmatch.fnmatchcase`, which huggingface_hub filters upload paths with: `*` matches any
/// run of characters, `/` included (so `data/*.json` matches `data/x/y.json`), `?` one character,
/// `[abc]`, `[a-z]` and `[!abc]` a class of one; an unclosed `[` is literal; case-sensitive.
package func fnmatchCase(_ pattern: String, _ name: String) -> Bool {
    enum Token {
        case literal(Unicode.Scalar)
        case any
        case star
        case set(negated: Bool, ranges: [ClosedRange<Unicode.Scalar>])
    }
    let p = Array(pattern.unicodeScalars)
    var tokens: [Token] = []
    var i = 0
    while i < p.count {
        let c = p[i]
        if c == "*" {
            if case .star = tokens.last {} else { tokens.append(.star) }
            i += 1
        } else if c == "?" {
            tokens.append(.any)
            i += 1
        } else if c == "[" {
            // As fnmatch.translate: `!` negates, a `]` right after `[` or `[!` is a member.
            var j = i + 1
            if j < p.count, p[j] == "!" { j += 1 }
            if j < p.count, p[j] == "]" { j += 1 }
            while j < p.count, p[j] != "]" { j += 1 }
            if j >= p.count {
                tokens.append(.literal("["))
                i += 1
                continue
            }
            var k = i + 1
            var negated = false
            if p[k] == "!" { negated = true; k += 1 }
            var ranges: [ClosedRange<Unicode.Scalar>] = []
            while k < j {
                if k + 2 < j, p[k + 1] == "-" {
                    if p[k] <= p[k + 2] { ranges.append(p[k]...p[k + 2]) }
                    k += 3
                } else {
                    ranges.append(p[k]...p[k])
                    k += 1
                }
            }
            tokens.append(.set(negated: negated, ranges: ranges))
            i = j + 1
        } else {
            tokens.append(.literal(c))
            i += 1
        }
    }
    func matches(_ t: Token, _ c: Unicode.Scalar) -> Bool {
        switch t {
        case .literal(let l): return l == c
        case .any: return true
        case .star: return false
        case .set(let negated, let ranges): return ranges.contains { $0.contains(c) } != negated
        }
    }
    // Greedy matching with backtracking to the last `*`, which may absorb any character.
    let s = Array(name.unicodeScalars)
    var ti = 0, si = 0
    var starToken = -1, starSubject = 0
    while si < s.count {
        if ti < tokens.count, case .star = tokens[ti] {
            starToken = ti
            starSubject = si
            ti += 1
        } else if ti < tokens.count, matches(tokens[ti], s[si]) {
            ti += 1
            si += 1
        } else if starToken >= 0 {
            ti = starToken + 1
            starSubject += 1
            si = starSubject
        } else {
            return false
        }
    }
    while ti < tokens.count, case .star = tokens[ti] { ti += 1 }
    return ti == tokens.count
}
