public import Hummingbird
public import HTTPTypes

/// A `RouterMethods` front for a Hummingbird `Router` that records each route in a
/// ``RouteCatalog``. Groups made from it (`group("v1")`) register through it too, so the
/// catalog sees every route the application serves.
public struct CatalogedRouter<Context: RequestContext>: RouterMethods {
    public let router: Router<Context>
    public let catalog: RouteCatalog

    public init(router: Router<Context>, catalog: RouteCatalog) {
        self.router = router
        self.catalog = catalog
    }

    @discardableResult
    public func on<Responder: HTTPResponder>(_ path: RouterPath, method: HTTPRequest.Method, responder: Responder) -> Self
    where Responder.Context == Context {
        catalog.record(.init(method: method, path: Self.openAPITemplate(path)))
        router.on(path, method: method, responder: responder)
        return self
    }

    @discardableResult
    public func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        router.add(middleware: middleware)
        return self
    }

    /// `RouterPath` prints parameters as `{name}`, as OpenAPI does; only the leading slash is normalised.
    static func openAPITemplate(_ path: RouterPath) -> String {
        let text = path.description
        return text.hasPrefix("/") ? text : "/" + text
    }
}
