import CZlib
import Foundation

/// A decoded PNG (8-bit RGB or RGBA, non-interlaced: what Chromium's screenshots are), enough to
/// tell a drawn page from a blank one. Our own because no Debian package gives Swift a PNG reader
/// and zlib is already linked.
package struct ScreenshotPNG {
    package let width: Int
    package let height: Int
    /// RGBA, row-major.
    package let pixels: [UInt8]

    package init(path: String) throws {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard data.count > 8, data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw ScreenshotError("\(path): not a PNG")
        }
        var i = 8
        var w = 0, h = 0, colorType = 0, idat: [UInt8] = []
        func be32(_ at: Int) -> Int { Int(data[at]) << 24 | Int(data[at + 1]) << 16 | Int(data[at + 2]) << 8 | Int(data[at + 3]) }
        while i + 8 <= data.count {
            let length = be32(i)
            let type = String(decoding: data[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = (i + 8)..<min(data.count, i + 8 + length)
            if type == "IHDR" {
                w = be32(body.lowerBound)
                h = be32(body.lowerBound + 4)
                guard data[body.lowerBound + 8] == 8, data[body.lowerBound + 12] == 0 else {
                    throw ScreenshotError("\(path): only 8-bit non-interlaced PNGs are supported")
                }
                colorType = Int(data[body.lowerBound + 9])
            } else if type == "IDAT" {
                idat += data[body]
            } else if type == "IEND" {
                break
            }
            i += 12 + length
        }
        let channels: Int
        switch colorType {
        case 2: channels = 3
        case 6: channels = 4
        default: throw ScreenshotError("\(path): colour type \(colorType) is not supported (RGB and RGBA are)")
        }
        let stride = w * channels
        var raw = [UInt8](repeating: 0, count: (stride + 1) * h)
        var rawLength = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { r in
            idat.withUnsafeBufferPointer { src in uncompress(r.baseAddress, &rawLength, src.baseAddress, uLong(src.count)) }
        }
        guard status == Z_OK, Int(rawLength) == raw.count else { throw ScreenshotError("\(path): corrupt image data") }
        // Undo the per-row filters (PNG spec, section 9).
        var out = [UInt8](repeating: 0, count: stride * h)
        for y in 0..<h {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = raw[y * (stride + 1) + 1 + x]
                let a = x >= channels ? Int(out[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(out[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(out[(y - 1) * stride + x - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw ScreenshotError("\(path): unknown row filter \(filter)")
                }
                out[y * stride + x] = UInt8(truncatingIfNeeded: Int(v) + predictor)
            }
        }
        if channels == 3 {
            var rgba = [UInt8](repeating: 255, count: w * h * 4)
            for p in 0..<(w * h) { for k in 0..<3 { rgba[p * 4 + k] = out[p * 3 + k] } }
            out = rgba
        }
        width = w
        height = h
        pixels = out
    }

    /// The share of pixels that differ from the top-left pixel (the page background).
    package var nonBackgroundShare: Double {
        let bg = Array(pixels[0..<4])
        var n = 0
        for p in 0..<(width * height) where !pixels[(p * 4)..<(p * 4 + 4)].elementsEqual(bg) { n += 1 }
        return Double(n) / Double(max(width * height, 1))
    }

    /// How many distinct colours the image has (up to `limit`).
    package func distinctColors(limit: Int = 1000) -> Int {
        var seen = Set<UInt32>()
        for p in 0..<(width * height) {
            let i = p * 4
            seen.insert(UInt32(pixels[i]) << 16 | UInt32(pixels[i + 1]) << 8 | UInt32(pixels[i + 2]))
            if seen.count >= limit { break }
        }
        return seen.count
    }
}

package struct ScreenshotError: Error, CustomStringConvertible {
    package let description: String
    init(_ d: String) { description = d }
}
