import IO

/// The Hugging Face cache on disk, laid out exactly as huggingface_hub lays it out, so either tool
/// reuses what the other downloaded:
///
///     <root>/models--org--name/blobs/<etag>                 file content, named by its ETag
///     <root>/models--org--name/snapshots/<commit>/<path>    relative symlink to ../../blobs/<etag>
///     <root>/models--org--name/refs/<revision>              the commit a branch or tag pointed to
///     <root>/.locks/models--org--name/<etag>.lock            held while a blob is written
///
/// (`datasets--org--name` for datasets). The ETag is the file's sha256 for LFS files and its git
/// blob id otherwise.
package struct HubCache: Sendable {
    package let root: String

    package init(root: String) { self.root = root }

    package func repoFolder(_ repo: HubRepo) -> String { root + "/" + repo.cacheFolderName }

    package func blobPath(_ repo: HubRepo, etag: String) -> String { repoFolder(repo) + "/blobs/" + etag }

    package func snapshotFolder(_ repo: HubRepo, commit: String) -> String {
        repoFolder(repo) + "/snapshots/" + commit
    }

    package func pointerPath(_ repo: HubRepo, commit: String, file: String) -> String {
        snapshotFolder(repo, commit: commit) + "/" + file
    }

    package func lockPath(_ repo: HubRepo, etag: String) -> String {
        root + "/.locks/" + repo.cacheFolderName + "/" + etag + ".lock"
    }

    /// The commit a revision names: itself when it is a commit hash, else what `refs/<revision>`
    /// recorded, else nil.
    package func commit(for repo: HubRepo, revision: String) -> String? {
        if HubRepo.isCommitHash(revision) { return revision }
        let ref = repoFolder(repo) + "/refs/" + revision
        guard FileSystem.isFile(ref), let text = try? FileSystem.readText(ref) else { return nil }
        let commit = httpTrim(text)
        return commit.isEmpty ? nil : commit
    }

    /// Records `refs/<revision>` → commit (nothing to record when the revision is the commit).
    package func writeRef(_ repo: HubRepo, revision: String, commit: String) throws {
        guard revision != commit else { return }
        let ref = repoFolder(repo) + "/refs/" + revision
        if let existing = try? FileSystem.readText(ref), existing == commit { return }
        try FileSystem.createDirectory(FileSystem.dirname(ref))
        try FileSystem.writeText(commit, to: ref)
    }

    /// The cached file of a commit, or nil.
    package func cachedFile(_ repo: HubRepo, commit: String, file: String) -> String? {
        let p = pointerPath(repo, commit: commit, file: file)
        return FileSystem.isFile(p) ? p : nil
    }

    /// The files cached for a commit (relative paths).
    package func snapshotFiles(_ repo: HubRepo, commit: String) -> [String] {
        FileSystem.listFilesRecursively(snapshotFolder(repo, commit: commit))
    }

    /// Marks the cache folder for backup tools, as huggingface_hub does.
    func tagCacheDirectory() {
        let tag = root + "/CACHEDIR.TAG"
        guard !FileSystem.exists(tag) else { return }
        try? FileSystem.writeText(
            "Signature: 8a477f597d28d172789f06886806bc55\n"
                + "# This file is a cache directory tag created by huggingface_hub.\n"
                + "# For information about cache directory tags, see:\n"
                + "#\thttps://bford.info/cachedir/\n",
            to: tag)
    }
}
