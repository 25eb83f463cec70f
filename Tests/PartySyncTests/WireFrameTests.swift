import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import PartySync

/// Frames written below the WebSocket encoder must be what the encoder would have written:
/// NIO's own decoder reads them back, at every length boundary of the header.
@Suite struct WireFrameTests {
    @Test(arguments: [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
    func nioDecodesTheFrameBackToItsText(_ length: Int) throws {
        let text = String(repeating: "é", count: length / 2) + String(repeating: "x", count: length % 2)
        #expect(text.utf8.count == length)
        let frame = WireFrame.text(text)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        defer { _ = try? channel.finish() }
        try channel.writeInbound(frame)
        let decoded = try #require(try channel.readInbound(as: WebSocketFrame.self))
        #expect(decoded.fin)
        #expect(decoded.opcode == .text)
        #expect(decoded.maskKey == nil)
        #expect(String(buffer: decoded.unmaskedData) == text)
        #expect(String(buffer: WireFrame.payload(of: frame)) == text)
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)
    }
}
