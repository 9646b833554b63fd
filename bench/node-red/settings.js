// Node-RED settings for the benchmark peer; the runner passes the port and user dir.
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: parseInt(process.env.NODE_RED_PORT || "1880", 10),
  flowFile: "flow.json",
  credentialSecret: false,
  httpAdminRoot: "/admin",
  httpNodeRoot: false,
  logging: { console: { level: "info", metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false } },
};
