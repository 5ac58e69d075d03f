// Where the app finds the API and the WebSocket. Empty = this page's own origin (the local stack);
// a deploy writes its own copy of this file (web/README.md), e.g. apiBase "/v1" behind CloudFront.
window.CAREFORALL_CONFIG = {apiBase: "", wsUrl: ""};
