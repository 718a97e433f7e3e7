import Foundation

/// Renders a local file in headless Chromium (Debian's `chromium`, which .ci/run installs) as a
/// person would see it: a screenshot, the browser's console messages (`--enable-logging=stderr`
/// prints each as a `CONSOLE` line: script errors, blocked loads, CSP violations) and the DOM after
/// loading (an SVG with an XML error renders as a `parsererror` page). Tests skip where it is absent.
package enum HeadlessChromium {
    package static let binary: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }()

    package struct Rendering {
        package let screenshot: ScreenshotPNG
        package let consoleMessages: [String]
        package let dom: String
    }

    package static func render(file: String, width: Int, height: Int) throws -> Rendering {
        guard let binary else { throw ScreenshotError("chromium is not installed") }
        let dir = TestPaths.scratch("chromium")
        let url = URL(fileURLWithPath: file).absoluteString
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                      "--disable-extensions", "--user-data-dir=\(dir)/profile", "--window-size=\(width),\(height)"]
        let shot = dir + "/shot.png"
        let first = try run(binary, common + ["--enable-logging=stderr", "--v=0", "--screenshot=\(shot)", url], in: dir)
        let console = first.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init)
        let dom = try run(binary, common + ["--dump-dom", url], in: dir).stdout
        guard FileManager.default.fileExists(atPath: shot) else {
            throw ScreenshotError("chromium wrote no screenshot (status \(first.status)):\n\(first.stderr.suffix(2000))")
        }
        return Rendering(screenshot: try ScreenshotPNG(path: shot), consoleMessages: console, dom: dom)
    }

    /// Runs chromium with a time limit (it can hang on a broken display setup).
    static func run(_ binary: String, _ args: [String], in dir: String, timeout: Double = 120) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let outPath = dir + "/stdout-\(UUID().uuidString.prefix(6))", errPath = dir + "/stderr-\(UUID().uuidString.prefix(6))"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning {
            p.terminate()
            p.waitUntilExit()
            throw ScreenshotError("chromium did not finish within \(Int(timeout)) s")
        }
        try out.close()
        try err.close()
        return (p.terminationStatus, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
