// The board screen (to be built).
