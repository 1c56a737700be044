package web

// explorerRoutes are the public explorer's pages.
func explorerRoutes() []Route {
	return []Route{}
}
