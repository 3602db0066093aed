export {
  isPathSpecifier,
  loadPlugin,
  pluginError,
  pluginExport,
  type LoadPluginOptions,
  type LoadedPlugin,
  type PluginReasonCode,
} from './loader.js';
