import Hub
import IO
import Training

/// `training.push_to_hub`: the final model goes to the hub once training has ended well, as
/// transformers' `push_to_hub` does. What can be checked is checked before training (hours of
/// work should not end in "no token"); the upload runs after the model is saved, and a failed
/// upload leaves the saved model and says how to send it again.
struct PushToHub {
    let repo: String
    let isPrivate: Bool?
    let outputDir: String
    let client: HubClient

    /// Paths of the output folder that stay home: the checkpoints (optimizer state included), and
    /// the temporary names of writes still in flight.
    static let excluded = ["checkpoint-*", "*.tmp-*"]

    /// Checks the repository id and that a token is there, and asks the hub about the token when
    /// it answers (a refused or read-only token is an error; no answer is only a warning).
    init(training t: TrainingConfig.Training, quiet: Bool) throws {
        repo = t.hubRepositoryID
        isPrivate = t.hubPrivateRepo
        outputDir = t.outputDir
        guard HubRepo.isValidID(repo) else {
            throw EmbedError("training.push_to_hub: '\(repo)' is not a hub repository id (org/name, with letters, digits, '-', '_' and '.'); set training.hub_model_id")
        }
        client = try HubClient()
        client.quiet = quiet
        guard client.settings.token != nil else {
            throw EmbedError("training.push_to_hub is true, but there is no Hugging Face token: set HF_TOKEN to a token with write access (or set push_to_hub to false)")
        }
        switch client.checkToken() {
        case .valid(let user, let role):
            if role == "read" {
                throw EmbedError("training.push_to_hub: the token (HF_TOKEN) of '\(user)' is read-only; the upload needs a token with write access")
            }
        case .refused(let message):
            throw EmbedError("training.push_to_hub: the hub refuses the token (HF_TOKEN): \(message)")
        case .unknown(let message):
            log("warning: could not check the Hugging Face token before training (\(message)); the upload at the end may fail")
        }
    }

    /// The command that sends the saved model again.
    var retryCommand: String {
        "upload \(repo) \(outputDir) " + Self.excluded.map { "--exclude '\($0)'" }.joined(separator: " ")
            + (isPrivate == true ? " --private" : "")
    }

    func run() throws {
        var request = UploadRequest(repo: HubRepo(repo), source: outputDir)
        request.isPrivate = isPrivate
        request.exclude = Self.excluded
        request.commitMessage = "End of training"
        do {
            let result = try HubUploader(client: client).upload(request)
            log("Pushed \(outputDir) to the hub: \(result.commitURL)")
        } catch {
            let message = (error as? EmbedError)?.message ?? "\(error)"
            throw EmbedError("the model is saved in \(outputDir), but the upload to the hub failed: \(message)\nsend it again with: \(retryCommand)")
        }
    }
}
