import NIOCore
import NIOEmbedded
@testable import RPGBotApp
import Testing

/// The first-head deadline on an embedded channel, its clock moved by hand.
@Suite struct FirstHeadDeadlineTests {
    func channel(refuse: Bool = false) throws -> EmbeddedChannel {
        // As a server's child channel: active before its handlers are added.
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.pipeline.syncOperations.addHandler(FirstHeadDeadline(timeout: .seconds(5), refuse: refuse))
        return channel
    }

    func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func aHeadWhoseBlankLineIsSplitAcrossReadsIsComplete() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: x\r\n\r"))
        try channel.writeInbound(ByteBuffer(string: "\n"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(try written(channel).isEmpty, "a complete head is the server's to answer, however long it takes")
        #expect(channel.isActive)
        // Everything read was passed on untouched.
        var forwarded = ""
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { forwarded += String(buffer: buffer) }
        #expect(forwarded == "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    }

    @Test func anIncompleteHeadIsAnswered408WhenTheTimeRunsOut() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: x\r\n"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(try written(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try written(channel) == "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        #expect(!channel.isActive)
    }

    @Test func aConnectionOverTheLimitIsAnswered503AtOnce() throws {
        let channel = try channel(refuse: true)
        #expect(try written(channel) == "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        #expect(!channel.isActive)
    }
}
