// Small vector kernels shared by the ops: SIMD reductions (faster and more accurate than serial sums).

import IO


@inline(__always)
package func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
package func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// Σ x[0..<n] with 8-lane SIMD accumulation (more accurate and faster than a serial sum).
@inline(__always)
package func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        acc += load8(x + i)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += x[i]; i += 1 }
    return s
}

/// Σ a[i]·b[i] with 8-lane SIMD accumulation.
@inline(__always)
package func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        acc += load8(a + i) * load8(b + i)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// Σ (x[i] - m)² with 8-lane SIMD accumulation.
@inline(__always)
package func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, _ n: Int, from m: Float) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        let d = load8(x + i) - m
        acc += d * d
        i += 8
    }
    var s = acc.sum()
    while i < n { let d = x[i] - m; s += d * d; i += 1 }
    return s
}

/// The first `n` (< 8) floats at p, the other lanes 0.
@inline(__always)
package func loadPartial(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD8<Float> {
    var v = SIMD8<Float>()
    for i in 0..<n { v[i] = p[i] }
    return v
}

/// Stores the first `n` (< 8) lanes of v at p.
@inline(__always)
package func storePartial(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}

/// out[i] = f(x[i]) over `range`, eight lanes at a time; the tail goes through a padded vector, so
/// every element gets the same arithmetic whatever the partition (results never depend on the
/// thread count).
@inline(__always)
func map8(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ range: Range<Int>, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        store8(f(load8(x + i)), out + i)
        i += 8
    }
    if i < range.upperBound {
        let n = range.upperBound - i
        storePartial(f(loadPartial(x + i, n)), out + i, n)
    }
}

/// out[i] = f(a[i], b[i]) over `range`, as `map8`.
@inline(__always)
func map8(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ range: Range<Int>,
          _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        store8(f(load8(a + i), load8(b + i)), out + i)
        i += 8
    }
    if i < range.upperBound {
        let n = range.upperBound - i
        storePartial(f(loadPartial(a + i, n), loadPartial(b + i, n)), out + i, n)
    }
}
