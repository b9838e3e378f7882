// The reports screen (to be built).
