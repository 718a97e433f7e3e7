/// The version every tool reports with `--version`.
package enum EmbedKitVersion {
    package static let string = "0.1.0"
}
