import Crypto
import Foundation

/// The offline image engine: not a model. It renders a deterministic PNG card for a prompt —
/// a title made of the prompt's first words, a palette and a pattern chosen by the prompt's
/// hash — so clients can lay out scenes and test the whole job flow with no image service.
/// The same prompt, style and size always give the same bytes.
public struct PlaceholderImageEngine: ImageEngine {
    public let name = "placeholder"

    public static let sizes = [
        ImageSize(width: 256, height: 256), ImageSize(width: 512, height: 512), ImageSize(width: 768, height: 512),
        ImageSize(width: 512, height: 768), ImageSize(width: 1024, height: 1024),
    ]
    public static let styles = ["card", "stripes", "rings", "grid"]

    public init() {}

    public func capabilities() async -> ImageCapabilities {
        ImageCapabilities(ready: true, sizes: Self.sizes, styles: Self.styles)
    }

    public func render(_ request: ImageRequest) async throws -> MediaOutput {
        MediaOutput(data: Self.card(request), contentType: "image/png", fileExtension: "png")
    }

    struct Color {
        var r: UInt8, g: UInt8, b: UInt8
    }

    static func card(_ request: ImageRequest) -> Data {
        let seed = Array(SHA256.hash(data: Data("\(request.prompt)\u{0}\(request.style ?? "")".utf8)))
        let width = request.width, height = request.height
        let base = color(hue: Double(seed[0]) / 255, saturation: 0.45, value: 0.35)
        let accent = color(hue: (Double(seed[1]) / 255 + 0.5).truncatingRemainder(dividingBy: 1), saturation: 0.6, value: 0.75)
        let style = request.style.flatMap { styles.contains($0) ? $0 : nil } ?? styles[Int(seed[2]) % styles.count]
        let period = 12 + Int(seed[3]) % 28
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let on: Bool
                switch style {
                case "stripes": on = ((x + y) / period) % 2 == 0
                case "rings":
                    let dx = Double(x - width / 2), dy = Double(y - height / 2)
                    on = Int((dx * dx + dy * dy).squareRoot()) / period % 2 == 0
                case "grid": on = x % period < 2 || y % period < 2
                default: on = (x / period + y / period) % 2 == 0
                }
                // A vertical fade keeps the title readable over the pattern.
                let fade = 0.55 + 0.45 * Double(y) / Double(height)
                let c = on ? mix(base, accent, 0.25 * fade) : base
                let index = (y * width + x) * 3
                pixels[index] = c.r
                pixels[index + 1] = c.g
                pixels[index + 2] = c.b
            }
        }
        drawTitle(title(request.prompt), into: &pixels, width: width, height: height, color: Color(r: 245, g: 240, b: 225), band: mix(base, Color(r: 0, g: 0, b: 0), 0.5))
        return PNGEncoder.encode(width: width, height: height, rgb: pixels)
    }

    /// The prompt's first words, at most two lines of 16 characters.
    static func title(_ prompt: String) -> [String] {
        var lines: [String] = [], line = ""
        for word in prompt.folding(options: [.diacriticInsensitive], locale: nil).split(whereSeparator: \.isWhitespace) {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if candidate.count <= 16 {
                line = candidate
            } else {
                if !line.isEmpty { lines.append(line) }
                if lines.count == 2 { break }
                line = String(word.prefix(16))
            }
        }
        if !line.isEmpty, lines.count < 2 { lines.append(line) }
        return lines
    }

    static func drawTitle(_ lines: [String], into pixels: inout [UInt8], width: Int, height: Int, color: Color, band: Color) {
        guard !lines.isEmpty else { return }
        let longest = max(1, lines.map(\.count).max() ?? 1)
        let scale = max(1, min(width * 8 / 10 / (longest * (BitmapFont.width + 1)), height / 5 / (lines.count * (BitmapFont.height + 2))))
        let lineHeight = (BitmapFont.height + 2) * scale
        let top = (height - lineHeight * lines.count) / 2
        for y in max(0, top - scale * 2)..<min(height, top + lineHeight * lines.count + scale * 2) {
            for x in 0..<width { set(&pixels, width, x, y, band) }
        }
        for (number, line) in lines.enumerated() {
            let left = (width - line.count * (BitmapFont.width + 1) * scale) / 2
            for (position, character) in line.enumerated() {
                let glyph = BitmapFont.glyph(character)
                for row in 0..<BitmapFont.height {
                    for column in 0..<BitmapFont.width where glyph[row] & (0x10 >> UInt8(column)) != 0 {
                        for dy in 0..<scale {
                            for dx in 0..<scale {
                                let x = left + (position * (BitmapFont.width + 1) + column) * scale + dx
                                let y = top + number * lineHeight + row * scale + dy
                                if x >= 0, x < width, y >= 0, y < height { set(&pixels, width, x, y, color) }
                            }
                        }
                    }
                }
            }
        }
    }

    static func set(_ pixels: inout [UInt8], _ width: Int, _ x: Int, _ y: Int, _ c: Color) {
        let index = (y * width + x) * 3
        pixels[index] = c.r
        pixels[index + 1] = c.g
        pixels[index + 2] = c.b
    }

    static func mix(_ a: Color, _ b: Color, _ t: Double) -> Color {
        func channel(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8(max(0, min(255, Double(x) + (Double(y) - Double(x)) * t))) }
        return Color(r: channel(a.r, b.r), g: channel(a.g, b.g), b: channel(a.b, b.b))
    }

    static func color(hue: Double, saturation: Double, value: Double) -> Color {
        let h = hue * 6, i = Int(h) % 6, f = h - Double(Int(h))
        let p = value * (1 - saturation), q = value * (1 - f * saturation), t = value * (1 - (1 - f) * saturation)
        let (r, g, b): (Double, Double, Double) = [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q)][i]
        return Color(r: UInt8(r * 255), g: UInt8(g * 255), b: UInt8(b * 255))
    }
}
