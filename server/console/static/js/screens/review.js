// The review screen (to be built).
