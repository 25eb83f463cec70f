import Hummingbird

/// Runs a read request in one ``ReadScope``: resolving its versions and the reads that follow
/// bring a catching-up store (PostgreSQL with in-process search) up to date once.
struct ReadScopeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await ReadScope.run { try await next(request, context) }
    }
}
