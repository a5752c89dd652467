export { thrown } from '@regime-zoo/test-utils';
