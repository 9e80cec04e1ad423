import './base.css';
import './experiments.css';
import './runs.css';
import './views.css';
import './sidebar.css';
import './apps.css';
