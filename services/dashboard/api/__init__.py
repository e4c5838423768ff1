"""Pages, one router per page: sign-in, overview, client, margins, what-if, prices, portal."""
