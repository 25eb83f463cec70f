import Foundation

/// The tensors of a `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, then the raw data. Only what a sentence
/// encoder needs is read: float32 tensors, by name.
struct SafeTensors: Sendable {
    struct Entry: Sendable {
        let dtype: String
        let shape: [Int]
        let range: Range<Int>
    }

    let data: Data
    let entries: [String: Entry]
    let dataStart: Int

    init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        guard data.count >= 8 else { throw SentenceEmbeddingError("\(url.lastPathComponent) is too short to be a safetensors file") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard headerLength > 0, headerLength <= data.count - 8,
              let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as? [String: Any]
        else { throw SentenceEmbeddingError("\(url.lastPathComponent) has no readable safetensors header") }
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int], offsets.count == 2,
                  offsets[0] <= offsets[1], offsets[1] <= data.count - 8 - headerLength
            else { throw SentenceEmbeddingError("\(url.lastPathComponent): the entry of \(name) is malformed") }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        self.data = data
        self.entries = entries
        dataStart = 8 + headerLength
    }

    /// The float32 tensor `name`, flattened, checked against `shape`.
    func floats(_ name: String, shape: [Int]) throws -> [Float] {
        guard let entry = entries[name] else { throw SentenceEmbeddingError("the model has no tensor \(name)") }
        guard entry.dtype == "F32" else { throw SentenceEmbeddingError("\(name) is \(entry.dtype), not F32") }
        guard entry.shape == shape else { throw SentenceEmbeddingError("\(name) has shape \(entry.shape), expected \(shape)") }
        let count = shape.reduce(1, *)
        guard entry.range.count == count * 4 else { throw SentenceEmbeddingError("\(name) holds \(entry.range.count) bytes for \(count) floats") }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.range.lowerBound)..<(dataStart + entry.range.upperBound)])
                // Little-endian on disk, as on every platform this runs on.
                _ = bytes.copyBytes(to: buffer)
            }
            initialized = count
        }
    }
}

/// Why a sentence encoder could not be loaded or run.
public struct SentenceEmbeddingError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
