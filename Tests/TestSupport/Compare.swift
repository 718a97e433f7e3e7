import Testing

/// Normwise relative error max|a−b| / max|b| (0 when both are zero): robust to elements near zero,
/// where elementwise relative error says nothing about float32 summation-order noise.
package func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
    var diff: Float = 0, scale: Float = 0
    for i in 0..<a.count {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    if !diff.isFinite { return .infinity }
    return scale == 0 ? diff : diff / scale
}

/// Records a failure naming the tensor when the relative error exceeds `tolerance`.
package func expectClose(_ a: [Float], _ b: [Float], _ name: String, tolerance: Float = 1e-5,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    let e = relativeError(a, b)
    #expect(e <= tolerance, "\(name): relative error \(e) > \(tolerance)", sourceLocation: sourceLocation)
}
