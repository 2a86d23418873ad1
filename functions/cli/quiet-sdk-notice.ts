/**
 * Imported first by every CLI entry point, before any AWS SDK client exists. The SDK prints, once per process
 * on Node 20, that its releases from January 2027 need Node 22 (NodeVersionSupportWarning); a scan or a hunt
 * would print it in the middle of the user's output. AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED is the
 * SDK's documented switch; an explicit value in the environment still wins. The README states the Node support.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
