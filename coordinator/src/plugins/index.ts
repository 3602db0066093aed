export {
  isPathSpecifier,
  loadPlugin,
  pluginError,
  pluginExport,
  type LoadPluginOptions,
  type LoadedPlugin,
  type PluginReasonCode,
} from './loader.js';
export { loadStrategyPlugin, type StrategyPluginModule } from './strategy-plugins.js';
