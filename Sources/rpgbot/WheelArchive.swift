import CompressNIO
import Foundation
import NIOCore
import NIOFoundationCompat

/// The entries of a zip archive (a Python wheel), read from its central directory; entries
/// are stored or deflated, as wheels are.
struct WheelArchive {
    struct Entry {
        let method: UInt16
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let data: Data
    let entries: [String: Entry]

    init(_ data: Data) throws {
        self.data = data
        let bytes = [UInt8](data)
        func u16(_ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 }
        func u32(_ offset: Int) -> Int { u16(offset) | u16(offset + 2) << 16 }
        // The end-of-central-directory record: within the last 64 KiB + 22 bytes.
        guard bytes.count >= 22,
              let end = stride(from: bytes.count - 22, through: max(0, bytes.count - 65_557), by: -1).first(where: { u32($0) == 0x0605_4B50 })
        else { throw WheelError("not a zip archive") }
        let count = u16(end + 10)
        var offset = u32(end + 16)
        var entries: [String: Entry] = [:]
        for _ in 0..<count {
            guard offset + 46 <= bytes.count, u32(offset) == 0x0201_4B50 else { throw WheelError("the zip directory is damaged") }
            let nameLength = u16(offset + 28), extraLength = u16(offset + 30), commentLength = u16(offset + 32)
            guard offset + 46 + nameLength <= bytes.count else { throw WheelError("the zip directory is damaged") }
            let name = String(decoding: bytes[(offset + 46)..<(offset + 46 + nameLength)], as: UTF8.self)
            entries[name] = Entry(method: UInt16(u16(offset + 10)), compressedSize: u32(offset + 20), size: u32(offset + 24), localHeaderOffset: u32(offset + 42))
            offset += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// The contents of `name`.
    func extract(_ name: String) throws -> Data {
        guard let entry = entries[name] else { throw WheelError("the wheel has no \(name)") }
        let header = entry.localHeaderOffset
        guard header + 30 <= data.count else { throw WheelError("\(name): damaged entry") }
        let nameLength = Int(data[data.startIndex + header + 26]) | Int(data[data.startIndex + header + 27]) << 8
        let extraLength = Int(data[data.startIndex + header + 28]) | Int(data[data.startIndex + header + 29]) << 8
        let start = header + 30 + nameLength + extraLength
        guard start + entry.compressedSize <= data.count else { throw WheelError("\(name): damaged entry") }
        let stored = data.subdata(in: (data.startIndex + start)..<(data.startIndex + start + entry.compressedSize))
        switch entry.method {
        case 0:
            return stored
        case 8:
            var buffer = ByteBuffer(data: stored)
            let inflated = try buffer.decompress(with: .deflate(), maxSize: entry.size)
            guard inflated.readableBytes == entry.size else { throw WheelError("\(name): inflated to \(inflated.readableBytes) bytes, expected \(entry.size)") }
            return Data(buffer: inflated)
        default:
            throw WheelError("\(name): unsupported compression method \(entry.method)")
        }
    }
}

struct WheelError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
