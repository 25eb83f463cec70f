/// Splits a document's Markdown body into sections along its headings, then splits long
/// sections into pieces of at most `maxTokens`, overlapping by `overlapTokens`.
///
/// Tokens are counted as words (whitespace-separated), which tracks model tokens closely
/// enough for a bound (English text runs about 1.3 model tokens per word).
public struct Chunker: Sendable {
    public var maxTokens: Int
    public var overlapTokens: Int

    public init(maxTokens: Int = 300, overlapTokens: Int = 40) {
        self.maxTokens = max(16, maxTokens)
        self.overlapTokens = min(max(0, overlapTokens), self.maxTokens / 2)
    }

    public struct Piece: Sendable, Equatable {
        public var headingPath: [String]
        public var text: String
    }

    public func split(_ markdown: String) -> [Piece] {
        var pieces: [Piece] = []
        var headings: [(level: Int, title: String)] = []
        var paragraphs: [String] = []
        var current: [String] = []
        var inFence = false

        func flushParagraph() {
            let paragraph = String(current.joined(separator: "\n").trimmed)
            if !paragraph.isEmpty { paragraphs.append(paragraph) }
            current = []
        }
        func flushSection() {
            flushParagraph()
            if !paragraphs.isEmpty {
                pieces += pack(paragraphs, headingPath: headings.map(\.title))
            }
            paragraphs = []
        }

        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = String(line.trimmed)
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                inFence.toggle()
                current.append(String(line))
                continue
            }
            if !inFence, let (level, title) = Self.heading(trimmed) {
                flushSection()
                headings.removeAll { $0.level >= level }
                headings.append((level, title))
                continue
            }
            if !inFence && trimmed.isEmpty {
                flushParagraph()
            } else {
                current.append(String(line))
            }
        }
        flushSection()
        return pieces
    }

    /// `## Title` → (2, "Title").
    static func heading(_ line: String) -> (Int, String)? {
        guard line.hasPrefix("#") else { return nil }
        let level = line.prefix { $0 == "#" }.count
        guard level <= 6 else { return nil }
        let rest = line.dropFirst(level)
        guard rest.isEmpty || rest.first == " " else { return nil }
        let title = rest.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "#")).trimmingCharacters(in: .whitespaces)
        return title.isEmpty ? nil : (level, title)
    }

    /// Paragraphs packed greedily up to the bound; a paragraph longer than the bound is cut into
    /// overlapping windows of words.
    func pack(_ paragraphs: [String], headingPath: [String]) -> [Piece] {
        var pieces: [Piece] = []
        var buffer: [String] = []
        var bufferTokens = 0
        func flush() {
            if !buffer.isEmpty { pieces.append(Piece(headingPath: headingPath, text: buffer.joined(separator: "\n\n"))) }
            buffer = []
            bufferTokens = 0
        }
        for paragraph in paragraphs {
            let words = paragraph.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
            if words.count > maxTokens {
                flush()
                var start = 0
                while start < words.count {
                    let end = min(words.count, start + maxTokens)
                    pieces.append(Piece(headingPath: headingPath, text: words[start..<end].joined(separator: " ")))
                    if end == words.count { break }
                    start = end - overlapTokens
                }
                continue
            }
            if bufferTokens + words.count > maxTokens { flush() }
            buffer.append(paragraph)
            bufferTokens += words.count
        }
        flush()
        return pieces
    }
}

import Foundation
