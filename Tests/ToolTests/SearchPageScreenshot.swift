import CZlib
import Foundation

/// The search page's screenshot: just enough of PNG to count its pixels by color (8-bit RGB or
/// RGBA, not interlaced, as Chromium writes it), decoded to RGBA. Kept apart from issue 17's PNG
/// helper (not on main yet); the lead may fold the two into one in TestSupport.
struct SearchPageScreenshot {
    let width: Int
    let height: Int
    /// RGBA, row by row.
    let pixels: [UInt8]

    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    init(path: String) throws {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard data.count > 8, data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw Error(description: "\(path): not a PNG file")
        }
        func u32(_ i: Int) -> Int { Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3]) }
        var i = 8, w = 0, h = 0, colorType = 0, idat: [UInt8] = []
        while i + 8 <= data.count {
            let length = u32(i), type = String(decoding: data[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = (i + 8)..<(i + 8 + length)
            switch type {
            case "IHDR":
                w = u32(body.lowerBound)
                h = u32(body.lowerBound + 4)
                colorType = Int(data[body.lowerBound + 9])
                guard data[body.lowerBound + 8] == 8, colorType == 2 || colorType == 6, data[body.lowerBound + 12] == 0 else {
                    throw Error(description: "\(path): only 8-bit RGB(A), non-interlaced PNGs are read here")
                }
            case "IDAT": idat += data[body]
            default: break
            }
            i = body.upperBound + 4
        }
        let channels = colorType == 6 ? 4 : 3, stride = w * channels
        var raw = [UInt8](repeating: 0, count: h * (stride + 1))
        var size = uLongf(raw.count)
        let status = idat.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { uncompress($0.baseAddress!, &size, src.baseAddress!, uLong(src.count)) }
        }
        guard status == Z_OK, Int(size) == raw.count else { throw Error(description: "\(path): bad image data (zlib \(status))") }
        // Undo the per-row filters (None, Sub, Up, Average, Paeth).
        var out = [UInt8](repeating: 255, count: w * h * 4)
        var previous = [UInt8](repeating: 0, count: stride), row = [UInt8](repeating: 0, count: stride)
        for y in 0..<h {
            let filter = raw[y * (stride + 1)], base = y * (stride + 1) + 1
            for x in 0..<stride {
                let a = x >= channels ? Int(row[x - channels]) : 0, b = Int(previous[x])
                let c = x >= channels ? Int(previous[x - channels]) : 0
                let predictor: Int
                switch filter {
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: predictor = 0
                }
                row[x] = UInt8((Int(raw[base + x]) + predictor) & 0xFF)
            }
            for x in 0..<w {
                for ch in 0..<channels { out[(y * w + x) * 4 + ch] = row[x * channels + ch] }
            }
            swap(&previous, &row)
        }
        width = w
        height = h
        pixels = out
    }

    /// How many pixels are within `tolerance` of the color (per channel).
    func count(red: Int, green: Int, blue: Int, tolerance: Int = 24) -> Int {
        var n = 0
        for p in stride(from: 0, to: pixels.count, by: 4)
        where abs(Int(pixels[p]) - red) <= tolerance && abs(Int(pixels[p + 1]) - green) <= tolerance && abs(Int(pixels[p + 2]) - blue) <= tolerance {
            n += 1
        }
        return n
    }

    /// Bands of consecutive rows holding the color (a button is one band, each bar or line of
    /// text in the color another), top to bottom.
    func bands(red: Int, green: Int, blue: Int, tolerance: Int = 24) -> Int {
        var bands = 0, previous = false
        for y in 0..<height {
            let has = (0..<width).contains { x in
                let p = (y * width + x) * 4
                return abs(Int(pixels[p]) - red) <= tolerance && abs(Int(pixels[p + 1]) - green) <= tolerance
                    && abs(Int(pixels[p + 2]) - blue) <= tolerance
            }
            if has && !previous { bands += 1 }
            previous = has
        }
        return bands
    }
}
