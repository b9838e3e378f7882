// The complaint screen (to be built).
