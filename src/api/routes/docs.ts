// GET /docs: Swagger UI over /openapi.json, from the swagger-ui-dist package (no CDN: it must work offline).
import express from 'express';
import swaggerUi from 'swagger-ui-dist';

// relative URLs, so the page also works behind a proxy that mounts the API under a path prefix
const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>temporal-etl API</title>
  <link rel="stylesheet" href="swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="init.js"></script>
</body>
</html>
`;
// an external script, not an inline one: helmet's Content-Security-Policy allows scripts from this origin only
const init = `window.ui = SwaggerUIBundle({ url: '../openapi.json', dom_id: '#swagger-ui', validatorUrl: null, deepLinking: true });\n`;

export function docsRoutes(app: express.Express): void {
  app.get('/docs', (req, res, next) => {
    if (req.path.endsWith('/')) return next();
    res.redirect(301, `${req.baseUrl}/docs/`);
  });
  app.get('/docs/', (_req, res) => {
    res.locals.route = '/docs';
    res.type('html').send(page);
  });
  app.get('/docs/init.js', (_req, res) => {
    res.locals.route = '/docs';
    res.type('application/javascript').send(init);
  });
  app.use(
    '/docs',
    (_req, res, next) => {
      res.locals.route = '/docs';
      next();
    },
    express.static(swaggerUi.getAbsoluteFSPath(), { index: false, maxAge: '1d' }),
  );
}
