import Foundation
import JSONValues

/// Row layouts and conversions both stores share.
enum GraphRows {
    static let nodeColumns = "part, id, source_id, kind, name, aliases, domain, visibility, session, status, summary, chunk_id, created_at, expires_at, pinned"
    static let edgeColumns = "part, source_id, from_id, to_id, type, attitude, weight, since, until, note, visibility, expires_at, pinned, chunk_ids, snippet, created_at"

    /// Ids split for reads that run side by side on the pool's readers (or the client's
    /// connections): one piece for a few ids, else at least two of at most 250 — a traversal's
    /// hop or a neighbourhood's nodes take half the time on two cores.
    static func pieces(_ ids: [String]) -> [[String]] {
        guard ids.count >= 32 else { return [ids] }
        let count = max(2, (ids.count + 249) / 250)
        let size = (ids.count + count - 1) / count
        return stride(from: 0, to: ids.count, by: size).map { Array(ids[$0..<min($0 + size, ids.count)]) }
    }

    /// `read` of every piece at once, the results in the pieces' order.
    static func concurrently<T: Sendable>(_ pieces: [[String]], _ read: @escaping @Sendable ([String]) async throws -> [T]) async throws -> [T] {
        guard pieces.count > 1 else { return try await read(pieces.first ?? []) }
        return try await withThrowingTaskGroup(of: (Int, [T]).self) { group in
            for (index, piece) in pieces.enumerated() { group.addTask { (index, try await read(piece)) } }
            var results = [[T]](repeating: [], count: pieces.count)
            for try await (index, rows) in group { results[index] = rows }
            return results.flatMap { $0 }
        }
    }

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    static func encode(_ strings: [String]) -> String {
        JSONValue.array(strings.map { .string($0) }).canonicalText
    }

    /// A JSON array of strings as ``encode(_:)`` writes it. Ids and aliases rarely need escapes,
    /// so those are split directly; anything else goes through the JSON parser.
    static func decode(_ text: String) -> [String] {
        let utf8 = text.utf8
        guard utf8.first == UInt8(ascii: "["), utf8.last == UInt8(ascii: "]"), !utf8.contains(UInt8(ascii: "\\")) else {
            return (try? JSONValue.parse(text))?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        var strings: [String] = []
        var start: String.UTF8View.Index?
        var index = utf8.index(after: utf8.startIndex)
        let end = utf8.index(before: utf8.endIndex)
        while index < end {
            if utf8[index] == UInt8(ascii: "\"") {
                if let open = start {
                    strings.append(String(text[open..<index]))
                    start = nil
                } else {
                    start = utf8.index(after: index)
                }
            }
            index = utf8.index(after: index)
        }
        return strings
    }
}
