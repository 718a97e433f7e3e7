/// The version every tool reports with `--version`.
public enum EmbedKitVersion {
    public static let string = "0.1.0"
}
