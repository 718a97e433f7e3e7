import ArgumentParser
import CLI
import Hub
import IO

@main
struct Upload: Tool {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a model folder (or one file) to the Hugging Face hub, as `hf upload` does.",
        discussion: """
            Creates the repository when it is missing (one that exists is fine), has the hub check \
            the README's metadata, and makes one commit: small files go in the commit itself, \
            large and binary ones (the weights) through git LFS, in parts when the hub asks for \
            it. Files the repository already holds with the same content are not sent again, and \
            an upload that changes nothing makes no commit. Dropped connections and server errors \
            are retried with back-off, except the final commit request. Prints the commit's URL \
            on stdout.

            Authentication: HF_TOKEN (or the token file $HF_HOME/token that `hf auth login` \
            writes), which must have write access. Environment: HF_ENDPOINT (default \
            https://huggingface.co).

            Patterns (--include, --exclude, --delete) are matched against paths relative to the \
            folder, as Python's fnmatch does: `*` also matches `/`, so `checkpoint-*` matches \
            every file below checkpoint-500/. .git/ and .cache/huggingface/ are never uploaded.

            Examples:
              upload my-org/norbert3-nli models/norbert3-base-nli-norwegian --exclude 'checkpoint-*'
                  Share a trained model (what `make push REPO=my-org/norbert3-nli` runs).
              upload my-org/norbert3-nli models/my-model --private --commit-message "First version"
              upload my-org/norbert3-nli models/my-model --delete '*' --create-pr
                  Open a pull request that makes the repo hold exactly the folder's files.
              upload my-org/norbert3-nli models/my-model/README.md
                  Upload one file (to README.md at the root).
              upload my-org/nli-data data/export train --repo-type dataset --include '*.jsonl.zst'
            """,
        version: EmbedKitVersion.string
    )

    @Argument(help: ArgumentHelp("The repository: org/name (a bare name goes to the token's user).", valueName: "repo-id"))
    var repoID: String

    @Argument(help: ArgumentHelp("The folder or file to upload (default: ./<name of the repo>, when it exists).", valueName: "local-path"))
    var localPath: String?

    @Argument(help: ArgumentHelp("Where it lands in the repository (default: the root for a folder, the file's name for a file).",
                                 valueName: "path-in-repo"))
    var pathInRepo: String?

    @Option(name: .customLong("path-in-repo"), help: ArgumentHelp("The same as the third argument.", valueName: "path"))
    var pathInRepoOption: String?

    @Option(name: .customLong("repo-type"), help: "model or dataset.")
    var repoType = "model"

    @Option(help: ArgumentHelp("The branch to commit to, created from main when missing (default: main).", valueName: "branch"))
    var revision: String?

    @Flag(name: .customLong("private"), help: "Create the repository private (an existing one keeps its visibility).")
    var isPrivate = false

    @Option(help: ArgumentHelp("Upload only files matching this pattern. Repeatable.", valueName: "pattern"))
    var include: [String] = []

    @Option(help: ArgumentHelp("Do not upload files matching this pattern. Repeatable.", valueName: "pattern"))
    var exclude: [String] = []

    @Option(help: ArgumentHelp(
        "Delete remote files matching this pattern (below path-in-repo) that are not uploaded now. Repeatable.", valueName: "pattern"))
    var delete: [String] = []

    @Option(name: .customLong("commit-message"), help: ArgumentHelp("The commit's summary.", valueName: "text"))
    var commitMessage: String?

    @Option(name: .customLong("commit-description"), help: ArgumentHelp("The commit's description.", valueName: "text"))
    var commitDescription: String?

    @Flag(name: .customLong("create-pr"), help: "Open a pull request against main instead of committing to it.")
    var createPR = false

    @Option(help: ArgumentHelp("Hub URL (default: $HF_ENDPOINT, else https://huggingface.co).", valueName: "url"))
    var endpoint: String?

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard HubRepo.isValidID(repoID) else {
            throw ValidationError("'\(repoID)' is not a repository id (org/name, with letters, digits, '-', '_' and '.')")
        }
        guard HubRepo.Kind(rawValue: repoType) != nil else { throw ValidationError("--repo-type must be model or dataset, not '\(repoType)'") }
        if let a = pathInRepo, let b = pathInRepoOption, a != b {
            throw ValidationError("the path in the repository is given twice, as '\(a)' and as '\(b)'")
        }
        if let commitMessage, commitMessage.isEmpty { throw ValidationError("--commit-message must not be empty") }
    }

    func execute() throws {
        log.apply()
        let name = String(repoID.split(separator: "/").last ?? Substring(repoID))
        let source = localPath ?? name
        if localPath == nil, !FileSystem.exists(source) {
            throw EmbedError("no local path given, and there is no ./\(name) to upload; name the folder or file to upload")
        }
        let client = try HubClient(endpoint: endpoint)
        client.quiet = log.quiet
        var request = UploadRequest(repo: HubRepo(repoID, kind: HubRepo.Kind(rawValue: repoType)!), source: source)
        request.pathInRepo = pathInRepo ?? pathInRepoOption
        request.revision = revision
        request.createPR = createPR
        request.isPrivate = isPrivate ? true : nil
        request.include = include
        request.exclude = exclude
        request.delete = delete.isEmpty ? nil : delete
        request.commitMessage = commitMessage
        request.commitDescription = commitDescription
        if FileSystem.isFile(source), !(include + exclude + delete).isEmpty {
            IO.log("warning: --include, --exclude and --delete are ignored when uploading one file")
            request.include = []
            request.exclude = []
            request.delete = nil
        }
        let result = try HubUploader(client: client).upload(request)
        print(result.commitURL)
        if let pr = result.pullRequestURL { IO.log("Pull request: \(pr)") }
    }
}
