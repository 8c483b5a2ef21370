// Limits that hold before a client has logged in, on both protocols.

/**
 * Largest startup or authentication message accepted before login (PostgreSQL's own startup
 * limit): a length header alone must not make the proxy reserve megabytes for a stranger.
 */
export const MAX_PRE_AUTH_MESSAGE = 10_000;
