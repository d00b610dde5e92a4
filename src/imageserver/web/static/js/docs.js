// Starts Swagger UI on /docs from the vendored bundle (web/vendor/swagger-ui). A file of its
// own, not an inline script, so the page's Content-Security-Policy can forbid inline code.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
