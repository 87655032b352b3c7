// Starts Swagger UI on this server's own OpenAPI document. A file, not an inline script, so the
// page's Content-Security-Policy can forbid inline code; nothing is fetched from anywhere else.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
  });
});
